"""Typed reads of the process environment, the only place configuration comes from."""

import os

from django.core.exceptions import ImproperlyConfigured


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() in {"1", "true", "yes", "on"}:
        return True
    if raw.lower() in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean (use true or false).")


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not a whole number.") from None


def env_list(name: str, default: str = "") -> list[str]:
    """A comma-separated list; blanks dropped."""
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def secret_key(debug: bool) -> str:
    """The Django secret key: from the environment, or read once per cold start from
    Secrets Manager when only its id is given (the web stage, where Zappa's settings
    file must hold no secrets)."""
    if key := os.environ.get("DJANGO_SECRET_KEY"):
        return key
    if secret_id := os.environ.get("DJANGO_SECRET_ID"):
        import boto3

        return boto3.client("secretsmanager").get_secret_value(SecretId=secret_id)["SecretString"]
    if debug:
        return "django-insecure-local-development-key-not-for-deployment"
    raise ImproperlyConfigured("Set DJANGO_SECRET_KEY or DJANGO_SECRET_ID.")
