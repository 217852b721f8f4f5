import boto3
import pytest
from moto import mock_aws

from sqs_tasks import aws as aws_clients
from sqs_tasks import queues
from tests.aws_resources import create_resources


@pytest.fixture
def aws(transactional_db):
    """A fresh in-process AWS (moto) with the task path's queues, table and bucket.

    Yields the queue URLs by name ("default", "default-dlq", ...)."""
    aws_clients.reset_clients()
    queues.clear_caches()
    with mock_aws():
        yield create_resources(boto3.session.Session(region_name="us-east-1"))
    aws_clients.reset_clients()
    queues.clear_caches()
