"""Database credentials from a Secrets Manager secret in RDS's JSON shape.

    {"engine": "postgres", "host": "...", "port": 5432, "username": "...",
     "password": "...", "dbname": "..."}

The secret is read at run time through sqs_tasks.secrets (Powertools' parameters utility),
kept a few minutes per execution environment, so connecting rarely costs a Secrets Manager
call. `refresh` reads it again at once, for when the database refuses the kept password
because the secret rotated.
"""

import json
from dataclasses import dataclass

from django.core.exceptions import ImproperlyConfigured

from sqs_tasks import secrets

POSTGRES_ENGINES = {"postgres", "postgresql", "aurora-postgresql"}


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
    """The secret's credentials, as last read (read again after secrets.MAX_AGE)."""
    return Credentials.from_secret_string(arn, secrets.secret_text(arn))


def refresh(arn: str) -> Credentials:
    """Read the secret again now (it may have rotated) and keep the new value."""
    return Credentials.from_secret_string(arn, secrets.secret_text(arn, force=True))


def forget() -> None:
    """Drop every kept secret (tests)."""
    secrets.forget()
