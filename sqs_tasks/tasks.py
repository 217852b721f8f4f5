"""The task system's own periodic tasks: they keep its guarantees, on schedules in
template.yaml like any other periodic task (contract 4).

- relay-outbox, every minute: sends what committed enqueues left unsent (contract 9).
- reconcile-tasks, every five minutes: makes the dead-letter queues and the results table
  agree (operations/reconcile.py).
"""

from typing import Any

from django.tasks import task, task_backends

from sqs_tasks import outbox
from sqs_tasks.backends.sqs import SQSBackend
from sqs_tasks.operations.reconcile import reconcile
from sqs_tasks.periodic import periodic

RELAY_TIMEOUT = 50  # under the schedule's minute, so runs do not pile up
RECONCILE_TIMEOUT = 120


def _backend() -> SQSBackend:
    backend = task_backends["default"]
    assert isinstance(backend, SQSBackend)
    return backend


@periodic("relay-outbox", schedule="cron(* * * * ? *)")
@task(timeout=RELAY_TIMEOUT, max_attempts=1)
def relay_outbox() -> dict[str, Any]:
    """Everything pending, even rows the committing process may be sending right now: a
    task sent twice still runs once, and a row it holds (PostgreSQL) is skipped. One try
    only: the next minute's run is the retry."""
    return outbox.relay_all(_backend(), budget_seconds=RELAY_TIMEOUT * 0.8).as_dict()


@periodic("reconcile-tasks", schedule="cron(0/5 * * * ? *)")
@task(timeout=RECONCILE_TIMEOUT, max_attempts=1)
def reconcile_tasks() -> dict[str, Any]:
    return reconcile(_backend(), budget_seconds=RECONCILE_TIMEOUT * 0.8).as_dict()
