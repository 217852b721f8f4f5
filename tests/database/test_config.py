"""DATABASES from the environment: nothing read from AWS at import, the RDS secret's shape."""

import json

import pytest
from django.core.exceptions import ImproperlyConfigured

from django_app.database import config, secret
from sqs_tasks import aws as aws_clients

ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf"
RDS_SECRET = {
    "engine": "postgres",
    "host": "db.abc.us-east-1.rds.amazonaws.com",
    "port": 5432,
    "username": "app",
    "password": "s3cret",
    "dbname": "app",
    "dbInstanceIdentifier": "db",
}


@pytest.fixture
def environment(monkeypatch):
    for name in ("DATABASE_URL", "DATABASE_SECRET_ARN", "DATABASE_CONN_MAX_AGE", "DATABASE_HOST"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


@pytest.fixture
def no_aws(monkeypatch):
    def refuse(service):
        raise AssertionError(f"an AWS call ({service}) while reading the settings")

    monkeypatch.setattr(aws_clients, "client", refuse)


def test_sqlite_by_default_and_connections_closed_after_each_use(environment, no_aws):
    database = config.default_database("/tmp/db.sqlite3")
    assert database["ENGINE"] == "django.db.backends.sqlite3"
    assert database["NAME"] == "/tmp/db.sqlite3"
    assert (database["CONN_MAX_AGE"], database["CONN_HEALTH_CHECKS"]) == (0, True)


def test_a_sqlite_file_keeps_a_write_ahead_log(environment, no_aws, tmp_path, django_db_blocker):
    """The local system's processes share the file; a commit is one append."""
    from django.db.backends.sqlite3.base import DatabaseWrapper

    settings = config.default_database(str(tmp_path / "db.sqlite3"))
    connection = DatabaseWrapper({**settings, "TIME_ZONE": None, "AUTOCOMMIT": True}, "x")
    try:
        with django_db_blocker.unblock(), connection.cursor() as cursor:
            cursor.execute("PRAGMA journal_mode")
            assert cursor.fetchone()[0] == "wal"
            cursor.execute("PRAGMA synchronous")
            assert cursor.fetchone()[0] == 1  # NORMAL
    finally:
        connection.close()
    environment.setenv("DATABASE_URL", "postgres://u:p@db.example.com:5433/app")
    assert "init_command" not in config.default_database("/unused").get("OPTIONS", {})


def test_database_url_and_a_longer_lifetime_behind_a_proxy(environment, no_aws):
    environment.setenv("DATABASE_URL", "postgres://u:p@db.example.com:5433/app")
    environment.setenv("DATABASE_CONN_MAX_AGE", "300")
    environment.setenv("DATABASE_DISABLE_SERVER_SIDE_CURSORS", "true")
    database = config.default_database("/unused")
    assert database["DISABLE_SERVER_SIDE_CURSORS"] is True
    assert database["ENGINE"] == "django.db.backends.postgresql"
    assert (database["HOST"], database["PORT"], database["NAME"]) == ("db.example.com", 5433, "app")
    assert database["CONN_MAX_AGE"] == 300


def test_a_secret_arn_selects_the_secret_backend_without_reading_it(environment, no_aws):
    environment.setenv("DATABASE_SECRET_ARN", ARN)
    environment.setenv("DATABASE_HOST", "app-dev.proxy-abc.us-east-1.rds.amazonaws.com")
    database = config.default_database("/unused")
    assert database["ENGINE"] == config.SECRET_ENGINE
    assert database["SECRET_ARN"] == ARN
    assert database["HOST"] == "app-dev.proxy-abc.us-east-1.rds.amazonaws.com"
    assert (database["USER"], database["PASSWORD"], database["NAME"]) == ("", "", "")
    assert database["OPTIONS"] == {
        "sslmode": "verify-full",
        "sslrootcert": str(config.RDS_CA_BUNDLE),
    }
    assert database["CONN_MAX_AGE"] == 0


def test_reads_the_rds_secret_shape():
    credentials = secret.Credentials.from_secret_string(ARN, json.dumps(RDS_SECRET))
    assert credentials == secret.Credentials(
        username="app",
        password="s3cret",
        host="db.abc.us-east-1.rds.amazonaws.com",
        port="5432",
        dbname="app",
    )


def test_an_rds_managed_master_secret_holds_only_the_user_and_password():
    text = json.dumps({"username": "postgres", "password": "x"})
    assert secret.Credentials.from_secret_string(ARN, text) == secret.Credentials("postgres", "x")


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("not json", "is not an RDS database secret"),
        (json.dumps({"password": "x"}), "is not an RDS database secret"),
        (json.dumps({**RDS_SECRET, "engine": "mysql"}), "is for 'mysql'"),
    ],
)
def test_refuses_what_is_not_a_postgresql_secret(text, problem):
    with pytest.raises(ImproperlyConfigured, match=problem):
        secret.Credentials.from_secret_string(ARN, text)


def test_read_once_per_process(secrets_manager):
    arn = secrets_manager.create_secret(Name="db", SecretString=json.dumps(RDS_SECRET))["ARN"]
    reads = []
    aws_clients.events("secretsmanager").register(
        "provide-client-params.secrets-manager.GetSecretValue",
        lambda params, **kw: reads.append(params["SecretId"]),
    )
    assert secret.credentials(arn).password == "s3cret"
    assert secret.credentials(arn).password == "s3cret"
    assert reads == [arn]
    secrets_manager.put_secret_value(
        SecretId=arn, SecretString=json.dumps({**RDS_SECRET, "password": "new"})
    )
    assert secret.credentials(arn).password == "s3cret"  # kept until refreshed
    assert secret.refresh(arn).password == "new" and secret.credentials(arn).password == "new"
    assert reads == [arn, arn]
