"""The maintenance jobs, each a task with its schedule (template.yaml has the same ones).

Running as tasks gives each run retries, a result and a dead-letter trail. A job that
reasons about time ("expired", "yesterday") judges as of the tick it was scheduled for,
so a late retry does the same work the on-time run would have.
"""

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.tasks import task

from django_app.maintenance import digest, health, sessions, uploads
from django_app.maintenance.backups import store as backups
from sqs_tasks import api
from sqs_tasks.periodic import periodic, tick_or_now

BACKUP_TIMEOUT = 840  # the whole of it, less the worker's margin


@periodic("clear-expired-sessions", schedule="cron(0 3 * * ? *)")
@task(max_attempts=3, timeout=120)
def clear_expired_sessions() -> dict[str, Any]:
    return {"expired": sessions.clear_expired()}


@periodic("remove-stale-uploads", schedule="cron(30 3 * * ? *)")
@task(queue_name="heavy", max_attempts=3, timeout=600)
def remove_stale_uploads(scheduled_time: str | None = None) -> dict[str, Any]:
    cutoff = tick_or_now(scheduled_time) - timedelta(days=settings.UPLOADS_RETENTION_DAYS)
    return uploads.remove_stale(api.bucket_name(), cutoff).as_dict()


@periodic("failed-tasks-digest", schedule="cron(0 6 * * ? *)")
@task(max_attempts=3, timeout=120)
def send_failed_tasks_digest(scheduled_time: str | None = None) -> dict[str, Any]:
    """Yesterday's (UTC) failures, mailed to OPERATOR_EMAILS when there are any."""
    day = digest.day_before(tick_or_now(scheduled_time))
    found = digest.collect(day)
    sent = digest.send(found, settings.OPERATOR_EMAILS)
    return {"day": found.day.isoformat(), "failed": found.total, "sent": sent}


@periodic("backup-database", schedule="cron(45 3 * * ? *)")
@task(queue_name="heavy", timeout=BACKUP_TIMEOUT, max_attempts=2)
def back_up_database(scheduled_time: str | None = None) -> dict[str, Any]:
    """A consistent logical backup of the database to BACKUP_BUCKET, named for the tick
    (a retry rewrites the same key), then backups older than BACKUP_RETENTION_DAYS go."""
    tick = tick_or_now(scheduled_time)
    bucket = settings.BACKUP_BUCKET
    report = backups.back_up(bucket, tick)
    pruned = backups.prune(
        bucket, tick, retention_days=settings.BACKUP_RETENTION_DAYS, keep=report.key
    )
    return {**report.as_dict(), "pruned": pruned}


# Every five minutes, on the clock. One attempt: a retried snapshot would be stale, and
# the next one is five minutes away.
@periodic("queue-health", schedule="cron(0/5 * * * ? *)")
@task(max_attempts=1, timeout=30)
def check_queue_health() -> list[dict[str, Any]]:
    healths = health.check()
    health.report(healths)
    return [h.as_dict() for h in healths]
