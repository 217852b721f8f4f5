"""Database credentials from a Secrets Manager secret in RDS's JSON shape.

    {"engine": "postgres", "host": "...", "port": 5432, "username": "...",
     "password": "...", "dbname": "..."}

The secret is read on first use and kept for the life of the process (one Lambda execution
environment), so connecting costs no Secrets Manager call after the first. `refresh` reads
it again, for when the database refuses the kept password because the secret rotated.
"""

import json
import threading
from dataclasses import dataclass

from django.core.exceptions import ImproperlyConfigured

from sqs_tasks import aws

POSTGRES_ENGINES = {"postgres", "postgresql", "aurora-postgresql"}

_lock = threading.Lock()
_cache: dict[str, "Credentials"] = {}


@dataclass(frozen=True, slots=True)
class Credentials:
    username: str
    password: str
    host: str = ""
    port: str = ""
    dbname: str = ""

    @classmethod
    def from_secret_string(cls, arn: str, text: str) -> "Credentials":
        try:
            values = json.loads(text)
            username, password = values["username"], values["password"]
        except (ValueError, KeyError, TypeError):
            raise ImproperlyConfigured(
                f"Secret {arn} is not an RDS database secret (JSON with username and password)."
            ) from None
        engine = values.get("engine", "postgres")
        if engine not in POSTGRES_ENGINES:
            raise ImproperlyConfigured(f"Secret {arn} is for {engine!r}; this app uses PostgreSQL.")
        return cls(
            username=username,
            password=password,
            host=values.get("host") or "",
            port=str(values.get("port") or ""),
            dbname=values.get("dbname") or "",
        )


def credentials(arn: str) -> Credentials:
    """The secret's credentials, read from Secrets Manager once per process."""
    with _lock:
        if arn not in _cache:
            _cache[arn] = _read(arn)
        return _cache[arn]


def refresh(arn: str) -> Credentials:
    """Read the secret again (it may have rotated) and keep the new value."""
    with _lock:
        _cache[arn] = _read(arn)
        return _cache[arn]


def forget() -> None:
    """Drop every kept secret (tests)."""
    with _lock:
        _cache.clear()


def _read(arn: str) -> Credentials:
    text = aws.client("secretsmanager").get_secret_value(SecretId=arn)["SecretString"]
    return Credentials.from_secret_string(arn, text)
