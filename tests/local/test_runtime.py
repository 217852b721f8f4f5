"""The local stand-ins for Lambda: execution environments and the SQS poller's reading of
a partial batch response."""

import pytest

from stack.local.pollers import Poller
from stack.local.runtime import FunctionRuntime, FunctionSpec, InvocationError, InvocationTimeout
from stack.local.topology import QueueMapping
from tests.local.conftest import ROOT


def runtime(handler: str, timeout: float = 5) -> FunctionRuntime:
    spec = FunctionSpec(name="test-fn", handler=handler, timeout=timeout, environment={})
    return FunctionRuntime(spec, concurrency=1, cwd=str(ROOT))


def test_an_environment_stays_warm_between_invocations():
    functions = runtime("tests/local/handlers.echo")
    try:
        first = functions.invoke({"n": 1})
        second = functions.invoke({"n": 2})
    finally:
        functions.stop()
    assert first["event"] == {"n": 1} and first["function"] == "test-fn"
    assert first["pid"] == second["pid"]


def test_a_raising_handler_fails_the_invocation_but_keeps_the_environment():
    functions = runtime("tests/local/handlers.broken")
    try:
        before = functions.invoke({})["pid"]
        with pytest.raises(InvocationError, match="handler failed"):
            functions.invoke({"fail": True})
        assert functions.invoke({})["pid"] == before
    finally:
        functions.stop()


def test_an_invocation_past_the_timeout_is_stopped_and_the_environment_replaced():
    functions = runtime("tests/local/handlers.sleepy", timeout=1)
    try:
        before = functions.invoke({"seconds": 0})["pid"]
        with pytest.raises(InvocationTimeout):
            functions.invoke({"seconds": 30})
        after = functions.invoke({"seconds": 0})["pid"]
    finally:
        functions.stop()
    assert after != before


def poller(reports_item_failures: bool = True) -> Poller:
    mapping = QueueMapping(
        function=FunctionSpec("fn", "h.h", 1, {}),
        queue_arn="arn:aws:sqs:us-east-1:123456789012:q",
        queue_url="http://q",
        batch_size=10,
        batching_window=0,
        max_concurrency=1,
        reports_item_failures=reports_item_failures,
    )
    return Poller(mapping, runtime=None, sqs=None, region="us-east-1")


BATCH = [{"MessageId": "a"}, {"MessageId": "b"}]


@pytest.mark.parametrize(
    ("response", "failed"),
    [
        ({"batchItemFailures": []}, set()),
        (None, set()),
        ({}, set()),
        ({"batchItemFailures": [{"itemIdentifier": "b"}]}, {"b"}),
        # What Lambda treats as a failure of the whole batch:
        ({"batchItemFailures": [{"itemIdentifier": "unknown"}]}, {"a", "b"}),
        ({"batchItemFailures": [{"itemIdentifier": ""}]}, {"a", "b"}),
        ({"batchItemFailures": [{"id": "a"}]}, {"a", "b"}),
        ("not a dict", {"a", "b"}),
    ],
)
def test_partial_batch_responses_are_read_as_lambda_reads_them(response, failed):
    assert poller()._failed_ids(BATCH, response) == failed


def test_without_report_batch_item_failures_a_returned_answer_deletes_all():
    assert (
        poller(reports_item_failures=False)._failed_ids(
            BATCH, {"batchItemFailures": [{"itemIdentifier": "a"}]}
        )
        == set()
    )
