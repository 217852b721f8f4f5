"""Issue 15 (hardening): deployed, the web app answers only to its stage's domain, and
refuses to start without one rather than answer to any host."""

import os
import subprocess
import sys

import pytest

from stack.template import ROOT

SHOW_HOSTS = "from django.conf import settings; print(','.join(settings.ALLOWED_HOSTS))"


def hosts_under(env: dict[str, str]) -> subprocess.CompletedProcess:
    base = {
        "PATH": os.environ["PATH"],
        "DJANGO_SETTINGS_MODULE": "django_app.settings",
        "DJANGO_SECRET_KEY": "x" * 50,
        "AWS_DEFAULT_REGION": "eu-west-1",
    }
    return subprocess.run(
        [sys.executable, "-c", SHOW_HOSTS],
        env={**base, **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


ZAPPA = {"FRAMEWORK": "Zappa"}  # what Zappa's handler sets before Django loads
STAGE_HOST = "abc123.execute-api.eu-west-1.amazonaws.com"


def test_the_web_stage_refuses_to_start_without_its_domain():
    process = hosts_under(ZAPPA)
    assert process.returncode != 0
    assert "Set DJANGO_ALLOWED_HOSTS to the stage's domain" in process.stderr


@pytest.mark.parametrize("hosts", ["*", ".amazonaws.com", f"{STAGE_HOST},.amazonaws.com."])
def test_the_web_stage_refuses_hosts_every_aws_customer_shares(hosts):
    process = hosts_under({**ZAPPA, "DJANGO_ALLOWED_HOSTS": hosts})
    assert process.returncode != 0 and "may not hold" in process.stderr


def test_the_web_stage_answers_to_its_domain_or_its_public_url():
    named = hosts_under({**ZAPPA, "DJANGO_ALLOWED_HOSTS": f"{STAGE_HOST},reports.example.com"})
    assert named.stdout.strip() == f"{STAGE_HOST},reports.example.com"
    from_url = hosts_under({**ZAPPA, "PUBLIC_BASE_URL": f"https://{STAGE_HOST}/dev"})
    assert from_url.stdout.strip() == STAGE_HOST


def test_off_the_web_stage_the_default_is_loopback():
    assert hosts_under({}).stdout.strip() == "localhost,127.0.0.1,[::1]"


def test_zappa_settings_leave_the_domain_to_the_deployer():
    settings = (ROOT / "zappa_settings.json").read_text()
    assert '.amazonaws.com"' not in settings
