import boto3
import pytest
from moto import mock_aws

from sqs_tasks import aws as aws_clients
from sqs_tasks import queues
from stack import emulator_dynamodb
from tests.aws_resources import create_resources

emulator_dynamodb.install()  # what moto lacks of DynamoDB, for every test


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


# `make test` runs on two workers (pytest-xdist). Tests that share something costly run on
# one worker, in turn, so that it is made once: the local system's tests (one system per
# session, on its own ports and files), those that read the web packages (`zappa package`,
# once a session: tests/infra/web_packages.py), and each infrastructure module (its
# module-scoped fixtures deploy a stack into moto or build a project copy: 20-30 s apiece,
# paid on both workers when its tests are split).
_SHARED = {
    "tests/local/": "local-system",
    "tests/infra/test_zappa.py": "artifacts",
    "tests/infra/test_readme_deploy.py": "artifacts",
}


def shared_group(nodeid: str) -> str | None:
    """The group a test runs in, on one worker; None for a test any worker may run."""
    path = nodeid.split("::")[0]
    for prefix, group in _SHARED.items():
        if path.startswith(prefix):
            return group
    return path if path.startswith("tests/infra/") else None


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> object | None:
    """With `--dist loadgroup`, group by shared_group. xdist's own way, `xdist_group`
    marks, does nothing with pytest 9.2 (xdist 3.8 suffixes `item._nodeid`, which pytest
    no longer reads), so the groups are told to its scheduler directly."""
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadGroupScheduling

    class SharedGroupScheduling(LoadGroupScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return shared_group(nodeid) or super()._split_scope(nodeid)

    return SharedGroupScheduling(config, log)


# pytest-django lets a test reach the database only through these (or the django_db
# mark); every test of ours that touches PostgreSQL does (tests/database's own connections
# are made inside such tests).
_DATABASE_FIXTURES = {
    "db",
    "transactional_db",
    "django_db_reset_sequences",
    "django_db_serialized_rollback",
    "live_server",
}


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--database-only",
        action="store_true",
        help="run only the tests that use the database (make test's PostgreSQL pass)",
    )


def uses_the_database(item: pytest.Item) -> bool:
    fixtures = set(getattr(item, "fixturenames", ()))
    return bool(fixtures & _DATABASE_FIXTURES) or item.get_closest_marker("django_db") is not None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not config.getoption("database_only"):
        return
    others = [item for item in items if not uses_the_database(item)]
    if others:
        config.hook.pytest_deselected(items=others)
        items[:] = [item for item in items if uses_the_database(item)]


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
