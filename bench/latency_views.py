"""The views the enqueue-latency benchmark requests: one task enqueued per request, as
tests/urls.py's `enqueue-add/` does, today's way and the way before the outbox.

Before the outbox (commit 032d13c, `SQSBackend.enqueue` and `_dispatch_one` in
sqs_tasks/backends/sqs.py), an enqueue outside a transaction validated the call, then,
in an on-commit hook that runs at once outside a transaction, encoded the message, put
the item (a conditional PutItem), sent the message (SendMessage), sent `task_enqueued`
and emitted the enqueued metric: no database row. `enqueue_before` does exactly that with
today's parts (the same validation, envelope, item and signed message), so the two views
differ only in the outbox: its INSERT and commit, and the relay's locked SELECT, DELETE
and commit around the same PutItem and send.
"""

import uuid
from functools import partial

from django.db import transaction
from django.http import HttpRequest, JsonResponse
from django.tasks import Task, TaskResult
from django.tasks.signals import task_enqueued
from django.urls import path
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from bench.tasks import add
from sqs_tasks import metrics, outbox, queues


def enqueue_before(task: Task, args: list[int]) -> TaskResult:
    """The enqueue of commit 032d13c, outside a transaction: PutItem, then SendMessage."""
    backend = task.get_backend()
    backend.validate_task(task)
    args, kwargs = backend._validated_arguments(task, args, {})
    prepared = backend._prepare(task, uuid.uuid4().hex, args, kwargs, timezone.now())
    transaction.on_commit(partial(_dispatch_one, backend, prepared), robust=False)
    return prepared.result


def _dispatch_one(backend: object, prepared: object) -> None:
    envelope = prepared.envelope  # type: ignore[attr-defined]
    message = backend.codec.encode(envelope)  # type: ignore[attr-defined]
    existing = backend.results.create(outbox.new_item(backend, envelope))  # type: ignore[attr-defined, arg-type]
    if existing is not None:
        return
    queues.send(backend.queue_url(envelope.queue_name), message)  # type: ignore[attr-defined]
    task_enqueued.send(type(backend), task_result=prepared.result)  # type: ignore[attr-defined]
    metrics.record_enqueued(envelope.queue_name, 1)


@csrf_exempt
def before(request: HttpRequest) -> JsonResponse:
    result = enqueue_before(add, [int(request.POST["a"]), int(request.POST["b"])])
    return JsonResponse({"id": result.id, "status": result.status})


@csrf_exempt
def after(request: HttpRequest) -> JsonResponse:
    result = add.enqueue(int(request.POST["a"]), int(request.POST["b"]))
    return JsonResponse({"id": result.id, "status": result.status})


urlpatterns = [path("before/", before), path("after/", after)]
