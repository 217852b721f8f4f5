"""Which Host headers the app answers to (ALLOWED_HOSTS), read from the environment.

Deployed, the web stage is Zappa's (its handler sets FRAMEWORK=Zappa before Django
loads) and answers only to its own domain: DJANGO_ALLOWED_HOSTS (comma-separated: the
stage's `<api-id>.execute-api.<region>.amazonaws.com`, a custom domain), or, when that
is unset, the host of PUBLIC_BASE_URL, which email links need anyway. With neither it
refuses to start rather than answer to any host, and it refuses "*" and wildcards on
amazonaws.com, which every AWS customer's APIs share. Elsewhere (the local system,
tests, management commands on an operator's machine, the workers, which serve no
requests) the default is the loopback names.
"""

import os
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured

from django_app.env import env_list, env_str

LOOPBACK = "localhost,127.0.0.1,[::1]"
SHARED_DOMAIN = "amazonaws.com"


def served_by_zappa() -> bool:
    return os.environ.get("FRAMEWORK") == "Zappa"


def allowed_hosts() -> list[str]:
    configured = env_list("DJANGO_ALLOWED_HOSTS")
    if not served_by_zappa():
        return configured or LOOPBACK.split(",")
    hosts = configured or [host for host in [urlsplit(env_str("PUBLIC_BASE_URL")).hostname] if host]
    if not hosts:
        raise ImproperlyConfigured(
            "Set DJANGO_ALLOWED_HOSTS to the stage's domain (the host of its API Gateway URL, "
            "or your own domain), or PUBLIC_BASE_URL to its URL: the web app answers to no "
            "other host."
        )
    too_broad = [host for host in hosts if host == "*" or _wildcard_on_shared_domain(host)]
    if too_broad:
        raise ImproperlyConfigured(
            f"DJANGO_ALLOWED_HOSTS may not hold {', '.join(too_broad)}: name the stage's own "
            "domain, not one every AWS customer shares."
        )
    return hosts


def _wildcard_on_shared_domain(host: str) -> bool:
    return host.startswith(".") and host.rstrip(".").endswith(SHARED_DOMAIN)
