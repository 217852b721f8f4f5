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


# `make test` runs on two workers (pytest-xdist, --dist loadgroup). Tests that share
# something outside the process run on one worker, in turn: the local system's tests (one
# system started per session, on its own ports and files) and those that build the Lambda
# artifact or the web package in the checkout.
_SHARED = {
    "tests/local/": "local-system",
    "tests/infra/test_lambda_artifact.py": "artifacts",
    "tests/infra/test_zappa.py": "artifacts",
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        path = item.nodeid.split("::")[0]
        for prefix, group in _SHARED.items():
            if path.startswith(prefix):
                item.add_marker(pytest.mark.xdist_group(group))


@pytest.fixture(autouse=True)
def log_streams_left_open():
    """A test that sets Django up again (importing a Lambda handler does) has its logging
    handlers write to that test's captured stderr, which pytest closes when the test ends:
    every later test in the process would then log to a closed file. Point such handlers
    back at the real stderr."""
    yield
    import logging
    import sys

    for handler in logging.getLogger().handlers:
        stream = getattr(handler, "stream", None)
        if isinstance(handler, logging.StreamHandler) and getattr(stream, "closed", False):
            with handler.lock:
                handler.stream = sys.__stderr__
