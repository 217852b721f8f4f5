"""The foundation: production settings, lean imports, request ids."""

import json
import os
import subprocess
import sys

import pytest

from sqs_tasks.middleware import request_id_of

PRODUCTION_ENV = {
    "PATH": os.environ["PATH"],
    "DJANGO_SETTINGS_MODULE": "django_app.settings",
    "DJANGO_SECRET_KEY": "x" * 20 + "a-long-random-production-secret-key-value-0123456789",
    "DJANGO_ALLOWED_HOSTS": "app.example.com",
    "AWS_DEFAULT_REGION": "eu-west-1",
}


def run_python(code: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )


def test_production_settings_pass_check_deploy():
    process = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        env=PRODUCTION_ENV,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert process.returncode == 0, process.stderr


def test_production_refuses_to_start_without_a_secret_key():
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != "DJANGO_SECRET_KEY"}
    process = run_python("import django; django.setup()", env)
    assert "Set DJANGO_SECRET_KEY or DJANGO_SECRET_ID" in process.stderr


def test_importing_the_worker_talks_to_no_aws():
    """Cold starts stay lean: no client is created and nothing is sent at import time.
    The endpoint points at a closed port, so any request would fail loudly."""
    env = {
        **PRODUCTION_ENV,
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
        "AWS_ACCESS_KEY_ID": "x",
        "AWS_SECRET_ACCESS_KEY": "x",
    }
    code = (
        "import json, functions.worker, sqs_tasks.aws as a;"
        "print(json.dumps({'clients': a._client.cache_info().currsize}))"
    )
    process = run_python(code, env)
    assert process.returncode == 0, process.stderr
    assert json.loads(process.stdout.splitlines()[-1]) == {"clients": 0}


@pytest.mark.parametrize(
    ("meta", "expected"),
    [
        ({"HTTP_X_REQUEST_ID": "abc-123"}, "abc-123"),
        ({"HTTP_X_REQUEST_ID": "bad id with spaces"}, None),
        ({}, None),
    ],
)
def test_request_id_comes_from_the_caller_only_when_safe(rf, meta, expected):
    request_id = request_id_of(rf.get("/", **meta))
    assert request_id == expected if expected else len(request_id) == 32


def test_request_id_prefers_lambdas(rf):
    request = rf.get("/", HTTP_X_REQUEST_ID="client-id")
    request.META["lambda.context"] = type("Ctx", (), {"aws_request_id": "lambda-req"})()
    assert request_id_of(request) == "lambda-req"


def test_enqueue_records_the_request_id(aws, client, settings):
    from django.tasks import default_task_backend

    settings.ROOT_URLCONF = "tests.urls"
    response = client.post("/enqueue-add/", {"a": 1, "b": 2}, HTTP_X_REQUEST_ID="trace-me")
    assert response["X-Request-ID"] == "trace-me"
    item = default_task_backend.results.get(response.json()["id"])
    assert item.request_id == "trace-me"
