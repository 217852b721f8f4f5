"""AWS requests per task, Zappa: `@task(capture_response=True)` against in-process moto.

What runs is Zappa's own code: calling the decorated function inside a Lambda (we set
AWS_LAMBDA_FUNCTION_NAME, as Lambda does) makes `LambdaAsyncResponse` call lambda:Invoke
with InvocationType=Event. moto cannot run a Lambda function without Docker, so that one
call is answered at the botocore level (`before-call.lambda.Invoke`, after it was counted)
with the 202 Lambda gives, and its payload is kept. Each payload is then run as Zappa's
handler runs an async task on the receiving Lambda: `LambdaHandler.run_function` on
`zappa.asynchronous.route_lambda_task`, which writes the response table (PutItem "in
progress", UpdateItem "complete"). Results are read back once with
`zappa.asynchronous.get_async_response` (one GetItem, eventually consistent).
"""

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from typing import Any
from unittest import mock

import boto3
from botocore.awsrequest import AWSResponse
from moto import mock_aws

from bench.counting import RequestCounter, counting, timed_invocation
from bench.pricing import Usage, item_bytes

REGION = "us-east-1"
RESPONSE_TABLE = "zappa-async-responses"
FUNCTION_NAME = "app-dev"  # the web function: Zappa runs async tasks in it
# What Lambda sets in a function's environment, which Zappa's decorator reads.
LAMBDA_ENVIRONMENT = {"AWS_LAMBDA_FUNCTION_NAME": FUNCTION_NAME, "AWS_DEFAULT_REGION": REGION}
MEMORY_MB = 512  # as our worker, to compare like with like (zappa_settings.json says 1024)


def measure(tasks: int) -> tuple[Usage, RequestCounter]:
    usage = Usage("Zappa @task(capture_response=True)", tasks, lambda_memory_mb=MEMORY_MB)
    with mock_aws(), mock.patch.dict(os.environ, LAMBDA_ENVIRONMENT):
        _create_response_table()
        import zappa.asynchronous as zappa_async
        from zappa.handler import LambdaHandler

        zappa_async.ASYNC_RESPONSE_TABLE = RESPONSE_TABLE  # zappa_settings.py's, when deployed
        payloads: list[str] = []
        clients = (zappa_async.LAMBDA_CLIENT, zappa_async.DYNAMODB_CLIENT)
        accept = _accept_invocation(payloads)
        events = zappa_async.LAMBDA_CLIENT.meta.events  # a module-level client: unhook after
        with counting(*clients) as counter, _hooked(events, "before-call.lambda.Invoke", accept):
            from bench.zappa_tasks import noop

            with counter.during("enqueue (lambda:Invoke per task)"):
                responses = [noop() for _ in range(tasks)]
            with counter.during("task (Zappa's handler, route_lambda_task)"):
                for payload in payloads:
                    run = partial(
                        LambdaHandler.run_function,
                        zappa_async.route_lambda_task,
                        json.loads(payload),
                        None,
                    )
                    timed_invocation(counter, usage.add_invocation, run)
            with counter.during("read results"):
                statuses = {
                    zappa_async.get_async_response(r.response_id)["status"] for r in responses
                }
        if statuses != {"complete"}:
            raise RuntimeError(f"not every Zappa task completed: {statuses}")
        items = boto3.client("dynamodb", region_name=REGION).scan(TableName=RESPONSE_TABLE)
        usage.item_bytes = max(item_bytes(item) for item in items["Items"])
    usage.sqs_requests = counter.sqs_chunks
    usage.dynamodb_writes = counter.dynamodb_writes
    usage.dynamodb_reads = counter.dynamodb_reads
    return usage, counter


def _accept_invocation(payloads: list[str]) -> Any:
    """Lambda's answer to an Event invocation (202, empty payload); the payload is kept
    for the function to run, as Lambda's internal queue would."""

    def accept(params: dict[str, Any], **_: Any) -> tuple[Any, dict[str, Any]]:
        body = params["body"]
        payloads.append(body.decode() if isinstance(body, bytes) else body)
        http = AWSResponse(params["url"], 202, {}, None)
        return http, {"StatusCode": 202, "Payload": b""}

    return accept


@contextmanager
def _hooked(events: Any, event_name: str, handler: Any) -> Iterator[None]:
    events.register(event_name, handler)
    try:
        yield
    finally:
        events.unregister(event_name, handler)


def _create_response_table() -> None:
    """The table `zappa deploy` creates for async_response_table (id hash key, TTL)."""
    boto3.client("dynamodb", region_name=REGION).create_table(
        TableName=RESPONSE_TABLE,
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
