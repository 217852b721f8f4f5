"""The outbox: tasks committed with the caller's transaction, not yet sent (contract 9).

An enqueue writes a row here, in the same database transaction as the caller's own
writes, so the task is exactly as durable as the data that asked for it: a rollback
leaves nothing; a commit leaves a row that some relay will send (outbox.py), whatever
happens to the process next.
"""

from django.db import models


class OutboxEntry(models.Model):
    TASK, WORKFLOW = "task", "workflow"

    # A task's id; a workflow's record is "wf:<workflow id>" (workflows/records.py).
    task_id = models.CharField(primary_key=True, max_length=64)
    kind = models.CharField(max_length=16, default=TASK)
    queue_name = models.CharField(max_length=80)
    # A task's envelope as JSON (envelope.py), signed when it is sent; or a workflow's
    # plan, written as its record before any of its steps is sent.
    envelope = models.TextField()
    created_at = models.DateTimeField(db_index=True)
    relay_attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True, default="")

    class Meta:
        db_table = "sqs_tasks_outbox"
        verbose_name = "unsent task"
        verbose_name_plural = "unsent tasks"

    def __str__(self) -> str:
        return f"{self.task_id} ({self.queue_name})"
