"""What a schedule's event says: which periodic task, and for which tick.

Two shapes arrive at the scheduler function:

- EventBridge Scheduler (SAM `ScheduleV2`) delivers only the target's Input, which by our
  convention is `{"schedule": "<name>", "scheduled_time": "<aws.scheduler.scheduled-time>"}`;
  Scheduler fills in the time, identical on every retry and duplicate of one tick.
- An EventBridge rule (SAM `Schedule`) without Input delivers a "Scheduled Event": the
  schedule is the rule's name less the `<app>-<stage>-` prefix, the tick is its `time`.

The tick is what deduplicates: two deliveries of one tick must enqueue one run.
"""

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

PLACEHOLDER = "<aws.scheduler.scheduled-time>"


class RefusedEvent(ValueError):
    """An event that names no schedule, or no tick that can be read."""


@dataclass(frozen=True, slots=True)
class Tick:
    schedule: str
    at: datetime  # UTC
    # False when the event carried no time and the invocation's own minute stands in.
    from_event: bool = True


def tick_of(event: Any, *, now: datetime, resource_prefix: str) -> Tick:
    """Read the schedule name and tick time from either event shape."""
    if not isinstance(event, dict):
        raise RefusedEvent(f"the event is a {type(event).__name__}, not a JSON object")
    if "schedule" in event:
        return _tick(event["schedule"], event.get("scheduled_time"), now)
    if event.get("detail-type") == "Scheduled Event":
        return _tick(_rule_schedule(event, resource_prefix), event.get("time"), now)
    raise RefusedEvent(
        'the event has no "schedule" (expected {"schedule": ..., "scheduled_time": ...} '
        "or an EventBridge Scheduled Event)"
    )


def _rule_schedule(event: dict[str, Any], resource_prefix: str) -> str:
    resources = event.get("resources") or []
    if not resources or not isinstance(resources[0], str) or ":rule/" not in resources[0]:
        raise RefusedEvent("the Scheduled Event names no rule in its resources")
    rule = resources[0].rsplit("/", 1)[-1]  # rule/<name> or rule/<bus>/<name>
    return rule.removeprefix(f"{resource_prefix}-")


def _tick(schedule: Any, when: Any, now: datetime) -> Tick:
    if not isinstance(schedule, str) or not schedule:
        raise RefusedEvent(f"the schedule name {schedule!r} is not a non-empty string")
    if when in (None, "", PLACEHOLDER):  # invoked by hand, or with the template's Input as is
        return Tick(schedule, now.astimezone(UTC).replace(second=0, microsecond=0), False)
    return Tick(schedule, parse_tick(when))


def parse_tick(when: Any) -> datetime:
    """An ISO 8601 time as UTC, to the second; a time without zone is taken as UTC."""
    try:
        moment = datetime.fromisoformat(when)
    except (TypeError, ValueError):
        raise RefusedEvent(f"the scheduled time {when!r} is not an ISO 8601 time") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).replace(microsecond=0)


def tick_or_now(scheduled_time: str | None) -> datetime:
    """For a periodic task: the tick it runs for, or now when run by hand. Jobs that reason
    about "expired" or "yesterday" use it, so a late retry judges as of its tick."""
    from django.utils import timezone

    return parse_tick(scheduled_time) if scheduled_time else timezone.now()
