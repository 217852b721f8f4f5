"""Priority by lanes, and fairness between tenants (issue 17)."""

import pytest
from django.tasks import TaskResultStatus, default_task_backend
from django.tasks.exceptions import InvalidTask

from functions.worker import handler
from sqs_tasks import aws as aws_clients
from sqs_tasks.lambda_events import LambdaContext
from sqs_tasks.testing import delete_done, receive_batch
from tests import sample_tasks
from tests.helpers import count, event_for

pytestmark = pytest.mark.usefixtures("aws")


def one_round(queue_url: str) -> None:
    """One poll and invocation by the queue's worker."""
    messages = receive_batch(queue_url)
    if messages:
        delete_done(queue_url, messages, handler(event_for(queue_url, messages), LambdaContext()))


@pytest.mark.volume
@pytest.mark.slow
def test_a_priority_100_task_behind_a_thousand_default_ones_starts_first():
    behind = sample_tasks.add.enqueue_many([((n, n), {}) for n in range(1000)])
    urgent = sample_tasks.add.using(priority=100).enqueue(1, 1)
    default, express = (default_task_backend.queue_url("default", lane) for lane in ("", "express"))
    assert count(express) == 1 and count(default) == 1000
    one_round(default)  # both lanes' workers poll at once: each runs one batch
    one_round(express)
    assert default_task_backend.get_result(urgent.id).status == TaskResultStatus.SUCCESSFUL
    ids = [r.id for r in behind]
    items = [
        item
        for start in range(0, len(ids), 100)  # BatchGetItem: 100 a request
        for item in default_task_backend.results.get_many(ids[start : start + 100])
    ]
    assert len(items) == 1000 and [item.status for item in items].count("READY") == 990


def test_a_priority_no_lane_takes_is_refused():
    with pytest.raises(InvalidTask, match="No lane of queue 'default' takes priority -5"):
        sample_tasks.add.using(priority=-5).enqueue(1, 1)
    with pytest.raises(InvalidTask, match="No lane of queue 'heavy'"):
        sample_tasks.heavy_echo.using(priority=10).enqueue("x")
    assert count(default_task_backend.queue_url("default")) == 0


def test_lanes_must_not_overlap_or_take_zero(settings):
    from django.core.exceptions import ImproperlyConfigured

    from sqs_tasks.backends.sqs import SQSBackend

    for lanes in ({"a": (0, 5)}, {"a": (1, 50), "b": (40, 100)}, {"a": (1, 200)}):
        options = {**settings.TASKS["default"]["OPTIONS"], "PRIORITY_LANES": {"default": lanes}}
        with pytest.raises(ImproperlyConfigured, match="PRIORITY_LANES"):
            SQSBackend("x", {"QUEUES": ["default"], "OPTIONS": options})


def test_a_tenant_travels_as_the_message_group_and_keeps_it_on_every_copy():
    sent = []
    for operation in ("SendMessage", "SendMessageBatch"):
        aws_clients.events("sqs").register(
            f"provide-client-params.sqs.{operation}",
            lambda params, **kw: sent.extend(
                entry.get("MessageGroupId") for entry in params.get("Entries", [params])
            ),
        )
    sample_tasks.add.using(message_group="user-7").enqueue(1, 1)
    assert sent == ["user-7"]
    by_argument = sample_tasks.add.using(message_group=lambda a, b: f"user-{a}")
    by_argument.enqueue(42, 0)
    assert sent[-1] == "user-42"
