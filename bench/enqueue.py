"""`python -m bench.enqueue N`: enqueue N no-op tasks from a process configured like the
system under test (its environment decides the backend), as fast as the backend allows.

Ours has `enqueue_many` (one outbox INSERT, BatchExecuteStatement, SendMessageBatch); a backend
without it gets one `enqueue` per task inside one transaction (django-tasks-db: one INSERT each).
"""

import sys

import django


def main() -> None:
    count = int(sys.argv[1])
    django.setup()
    from django.db import transaction

    from bench.tasks import noop

    if hasattr(noop, "enqueue_many"):
        noop.enqueue_many([((), {})] * count)
        return
    with transaction.atomic():
        for _ in range(count):
            noop.enqueue()


if __name__ == "__main__":
    main()
