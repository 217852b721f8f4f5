"""The no-op task as a Celery user writes it, with the SQS broker and the DynamoDB result
backend, both pointed at the benchmark's moto server (BENCH_AWS_ENDPOINT).

The worker runs `celery -A bench.celery_app worker`; the benchmark builds its producer
with `make_app(endpoint)` for the server it started.
"""

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from celery import Celery

QUEUE = "bench-celery"
RESULTS_TABLE = "celery-results"
REGION = "us-east-1"


def make_app(endpoint: str) -> "Celery":
    """A Celery app on SQS (broker) and DynamoDB (results) at a local endpoint. Celery is
    imported here: the harness's tests import this module's neighbours without it
    (requirements-bench.txt is for `make bench` alone)."""
    from celery import Celery

    host = endpoint.removeprefix("http://")
    app = Celery(
        "bench",
        broker=f"sqs://local:local@{host}",
        backend=f"dynamodb://local:local@{host}/{RESULTS_TABLE}",
    )
    app.conf.update(
        broker_transport_options={"region": REGION, "is_secure": False},
        broker_connection_retry_on_startup=True,
        task_default_queue=QUEUE,
        # Receive up to ten at a time, as our event source mapping's batches do.
        worker_prefetch_multiplier=10,
        worker_hijack_root_logger=False,
    )
    app.task(name="bench.noop")(_noop)
    return app


def _noop() -> None:
    return None


if "BENCH_AWS_ENDPOINT" in os.environ:
    app = make_app(os.environ["BENCH_AWS_ENDPOINT"])
