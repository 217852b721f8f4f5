"""The batch loop: Powertools' partial-batch processor over our record handler."""

import os
from typing import Any

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from django.core.exceptions import ImproperlyConfigured
from django.tasks import task_backends

from sqs_tasks import metrics
from sqs_tasks.backends.sqs import SQSBackend
from sqs_tasks.runner.runner import TaskRunner
from sqs_tasks.worker.deadline import Deadline
from sqs_tasks.worker.record import RecordHandler


def backend_for_worker() -> SQSBackend:
    """The backend this function serves: TASKS_BACKEND in its environment, else default."""
    backend = task_backends[os.environ.get("TASKS_BACKEND", "default")]
    if not isinstance(backend, SQSBackend):
        raise ImproperlyConfigured(f"Backend {backend.alias!r} is not an SQSBackend.")
    return backend


def handle_batch(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Run every record, then start what follows the workflow steps that succeeded in the
    batch (RecordHandler.finish_batch); answer with the ones to redeliver (contract 3).

    A problem with one record never raises: it is reported in batchItemFailures. Only a
    fault that makes the whole batch unsafe (no backend, an event that is not an SQS
    batch) raises, and then Lambda returns every message to the queue.
    """
    backend = backend_for_worker()
    handler = RecordHandler(
        backend,
        TaskRunner(backend),
        Deadline(context, backend.config.deadline_margin),
        worker_id=getattr(context, "aws_request_id", None) or f"local-{os.getpid()}",
    )
    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
    try:
        response = process_partial_response(
            event=event, record_handler=handler, processor=processor, context=context
        )
        returned = [{"itemIdentifier": message_id} for message_id in handler.finish_batch()]
        return {**response, "batchItemFailures": [*response["batchItemFailures"], *returned]}
    finally:
        metrics.flush()
