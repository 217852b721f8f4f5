"""The scheduler's Lambda handler (contract 4): `functions/scheduler.handler`.

Each EventBridge schedule in template.yaml invokes it with the name of a periodic task and
the tick; it enqueues that task and returns. The task then runs on a worker like any other.
Django is set up and the periodic tasks are discovered once per cold start, so a bad
declaration fails the init; AWS clients are created on first use, not at import.
"""

import os
from typing import Any

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "django_app.settings")
django.setup()

from sqs_tasks import log_context  # noqa: E402 - needs Django set up
from sqs_tasks.periodic import periodic_tasks  # noqa: E402
from sqs_tasks.periodic.dispatch import fire  # noqa: E402

periodic_tasks.autodiscover()


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    # The invocation's request id is recorded on the enqueued task's result: a trail back
    # from a task to the schedule run that enqueued it.
    with log_context.bound(request_id=getattr(context, "aws_request_id", None)):
        return fire(event)
