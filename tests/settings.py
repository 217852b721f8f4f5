"""Test settings: the real settings, read from a test environment."""

import os

os.environ.update(
    {
        "APP_NAME": "app",
        "APP_STAGE": "test",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "DJANGO_SECRET_KEY": "test-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz",
        "DJANGO_DEBUG": "false",
        "DJANGO_SECURE_SSL_REDIRECT": "false",
        "DATABASE_URL": os.environ.get("DATABASE_URL", "sqlite://:memory:"),
    }
)
os.environ.pop("AWS_ENDPOINT_URL", None)

from django_app.settings import *  # noqa: F403
from django_app.settings import DATABASES, TASKS
from sqs_tasks.limits import Rate

# Retries come back at once, so tests need not wait out a backoff.
TASKS["default"]["OPTIONS"]["RETRY_BACKOFF_BASE"] = 0
# A lane for urgent tasks on the default queue (tests/core/test_priority.py).
TASKS["default"]["OPTIONS"]["PRIORITY_LANES"] = {"default": {"express": (1, 100)}}
# A limit tasks share by name (tests/limit_tasks.py).
TASKS["default"]["OPTIONS"]["LIMITS"] = {
    **TASKS["default"]["OPTIONS"]["LIMITS"],
    "shared-api": Rate(2, per="second", burst=2),
}
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# A second database, created only for the tests that ask for it: the empty database a
# backup is restored into (tests/maintenance/test_backups.py). SQLite gives each alias its
# own in-memory database; elsewhere it needs a name of its own.
DATABASES["restore"] = {**DATABASES["default"]}
if DATABASES["default"]["ENGINE"] != "django.db.backends.sqlite3":
    DATABASES["restore"]["TEST"] = {"NAME": "test_restore"}
# And one on SQLite whatever the default is: on the PostgreSQL pass, a backup made there
# is restored into it, across engines.
DATABASES["sqlite"] = {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}
