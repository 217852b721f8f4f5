"""The secret backend against a real PostgreSQL server: credentials from Secrets Manager,
read once, and read again only when the server refuses them after a rotation."""

import json
import uuid

import pytest
from django.db import connection

from django_app.database import config
from django_app.database.secret_postgresql.base import DatabaseWrapper
from sqs_tasks import aws, secrets
from tests.database.conftest import server_connection


@pytest.fixture
def role(postgres):
    """A login role of the test's own, dropped afterwards (roles outlive databases)."""
    name, password = f"rotating_{uuid.uuid4().hex[:8]}", "first-password"
    with server_connection() as server:
        server.execute(f"CREATE ROLE {name} LOGIN PASSWORD '{password}'")
    yield name, password
    with server_connection() as server:
        server.execute(f"DROP ROLE {name}")


@pytest.fixture
def stored(secrets_manager, role):
    """The role's credentials in RDS's secret shape; returns (arn, reads)."""
    name, password = role
    params = connection.get_connection_params()
    value = {
        "engine": "postgres",
        "host": params["host"],
        "port": int(params["port"]),
        "username": name,
        "password": password,
        "dbname": params["dbname"],
    }
    arn = secrets_manager.create_secret(Name=f"db-{name}", SecretString=json.dumps(value))["ARN"]
    return arn, value


def wrapper(arn):
    """A connection configured as the deployed settings would be, for this secret."""
    settings_dict = {
        **connection.settings_dict,
        **config.secret_database(arn),
        "OPTIONS": {"sslmode": "disable"},  # the test server speaks plain TCP on loopback
    }
    return DatabaseWrapper(settings_dict, alias="from-secret")


def whoami(database):
    with database.cursor() as cursor:
        cursor.execute("SELECT current_user, current_database()")
        return cursor.fetchone()


@pytest.fixture
def reads():
    """The secrets read from Secrets Manager, in order (each a GetSecretValue)."""
    seen: list[str] = []
    secrets.forget()
    aws.events("secretsmanager").register(
        "provide-client-params.*.GetSecretValue",
        lambda params, **kw: seen.append(params["SecretId"]),
    )
    return seen


def test_connects_with_the_secret_read_once(stored, reads):
    arn, value = stored
    first, second = wrapper(arn), wrapper(arn)
    assert whoami(first) == (value["username"], value["dbname"])
    assert whoami(second) == (value["username"], value["dbname"])
    first.close(), second.close()
    assert reads == [arn]


def test_a_rotated_password_is_read_again_once_and_the_connection_retried(
    stored, reads, secrets_manager
):
    arn, value = stored
    database = wrapper(arn)
    assert whoami(database)[0] == value["username"]
    database.close()
    with server_connection() as server:  # what a rotation does: the server first...
        server.execute(f"ALTER ROLE {value['username']} PASSWORD 'second-password'")
    rotated = {**value, "password": "second-password"}  # ...then the secret
    secrets_manager.put_secret_value(SecretId=arn, SecretString=json.dumps(rotated))

    assert whoami(database)[0] == value["username"]
    database.close()
    assert whoami(wrapper(arn))[0] == value["username"]
    assert reads == [arn, arn]


def test_a_refused_password_the_secret_still_holds_fails_without_a_loop(stored, reads):
    arn, value = stored
    with server_connection() as server:
        server.execute(f"ALTER ROLE {value['username']} PASSWORD 'nobody-knows'")
    with pytest.raises(Exception, match="password authentication failed"):
        whoami(wrapper(arn))
    assert reads == [arn, arn]
