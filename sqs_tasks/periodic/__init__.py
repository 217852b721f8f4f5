"""Periodic tasks: declared in code next to the task, fired by EventBridge schedules.

The path a run takes: template.yaml's schedule -> functions/scheduler.handler ->
dispatch.fire (registry lookup, one enqueue per tick) -> the task's queue -> the worker,
like any task, so a scheduled run has retries, a result and a dead-letter trail.

    expressions (cron.py, rate.py, days.py)   what EventBridge accepts, and next run times
    registry.py                                the declarations, checked at import
    ticks.py, dispatch.py                      the scheduler function's work
    template.py, drift.py                      code vs template.yaml (manage.py periodic_tasks)
"""

from sqs_tasks.periodic.errors import InvalidScheduleExpression, PeriodicTaskError
from sqs_tasks.periodic.expressions import parse_schedule
from sqs_tasks.periodic.registry import (
    PeriodicRegistry,
    PeriodicTask,
    periodic,
    periodic_tasks,
    register_periodic,
)
from sqs_tasks.periodic.ticks import tick_or_now

__all__ = [
    "InvalidScheduleExpression",
    "PeriodicRegistry",
    "PeriodicTask",
    "PeriodicTaskError",
    "parse_schedule",
    "periodic",
    "periodic_tasks",
    "register_periodic",
    "tick_or_now",
]
