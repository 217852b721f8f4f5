"""The jobs app's periodic task: keep the staff overview of the task list in the cache."""

from typing import Any

from django.tasks import task

from django_app.jobs import overview
from sqs_tasks.periodic import periodic, tick_or_now


# Every fifteen minutes, two minutes off queue-health's ticks: each run reads ten metrics
# back from CloudWatch (GetMetricData bills per metric read), and day-long counts a
# quarter of an hour old serve the page well. One attempt: the next refresh comes
# sooner than a retry would be useful, and a page computes on a miss meanwhile.
@periodic("refresh-task-overview", schedule="cron(2/15 * * * ? *)")
@task(max_attempts=1, timeout=120)
def refresh_task_overview(scheduled_time: str | None = None) -> dict[str, Any]:
    return overview.refresh(tick_or_now(scheduled_time)).as_dict()
