from collections.abc import Iterator

import boto3
import psycopg
import pytest
from django.db import connection
from moto import mock_aws

from django_app.database import secret
from sqs_tasks import aws as aws_clients
from tests.helpers import REGION


def postgres_only() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: make test runs this on the PostgreSQL pass")


@pytest.fixture
def postgres(transactional_db) -> None:
    postgres_only()


def server_connection() -> psycopg.Connection:
    """A connection of the test's own, outside Django, to watch and change the server."""
    params = connection.get_connection_params()
    keep = ("dbname", "user", "password", "host", "port")
    return psycopg.connect(**{key: params[key] for key in keep if key in params}, autocommit=True)


@pytest.fixture
def secrets_manager() -> Iterator[object]:
    """moto's Secrets Manager, with the process's kept secrets forgotten before and after."""
    aws_clients.reset_clients()
    secret.forget()
    with mock_aws():
        yield boto3.client("secretsmanager", region_name=REGION)
    secret.forget()
    aws_clients.reset_clients()
