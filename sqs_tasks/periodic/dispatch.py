"""The scheduler function's work (contract 4): from a schedule's event to one enqueued run.

Every outcome is returned, not raised, except a failure to enqueue: EventBridge invokes
asynchronously, so a raise makes Lambda retry (and finally dead-letter) the event. That
suits a transient AWS error, and the tick's deduplication makes the retry safe. A refused
event would be refused again on every retry, so it is logged at ERROR and answered.
"""

import logging
from typing import Any

from django.conf import settings
from django.utils import timezone

from sqs_tasks import log_context
from sqs_tasks.periodic.registry import PeriodicRegistry, periodic_tasks, tick_iso
from sqs_tasks.periodic.ticks import RefusedEvent, tick_of

logger = logging.getLogger("sqs_tasks.periodic")


def fire(event: Any, registry: PeriodicRegistry = periodic_tasks) -> dict[str, Any]:
    """Enqueue the periodic task the event names, once per tick."""
    try:
        tick = tick_of(event, now=timezone.now(), resource_prefix=settings.RESOURCE_PREFIX)
    except RefusedEvent as error:
        return _refuse(str(error), event=event)
    with log_context.bound(schedule=tick.schedule, scheduled_time=tick_iso(tick.at)):
        periodic = registry.get(tick.schedule)
        if periodic is None:
            known = ", ".join(p.name for p in registry.all()) or "none"
            return _refuse(
                f"{tick.schedule!r} is not a registered periodic task (known: {known})",
                schedule=tick.schedule,
            )
        answer = {"schedule": periodic.name, "scheduled_time": tick_iso(tick.at)}
        if not periodic.enabled:
            logger.warning("periodic task %s is disabled in code; not enqueued", periodic.name)
            return {"status": "skipped", "reason": "disabled", **answer}
        if not tick.from_event:
            logger.warning("the event carries no scheduled time; using this minute as the tick")
        result = periodic.enqueue(tick.at)
        logger.info(
            "enqueued periodic task %s",
            periodic.name,
            extra={"task_id": result.id, "task_path": periodic.task.module_path},
        )
        return {"status": "enqueued", "task_id": result.id, **answer}


def _refuse(reason: str, **fields: Any) -> dict[str, Any]:
    logger.error("refused schedule event: %s", reason, extra=fields)
    return {"status": "refused", "reason": reason, **fields}
