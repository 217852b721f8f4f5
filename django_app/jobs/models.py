"""Which user a background task belongs to: the task backend knows tasks, not people.

Pages read tasks only through this link, so "each user sees only their own tasks" is
one queryset filter. It keeps the call's arguments, so a failed task can be enqueued
again long after the result store has forgotten it, and it can point at what the task
works on (a report), so that page finds the latest attempt at it.

A job follows one task, or one workflow of tasks (sqs_tasks.workflows): then `task_id` is
the workflow's id and `task_path` names the app's function that starts it (services.py).
"""

from typing import Any

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import models

from django_app.ownership import OwnedQuerySet


class Job(models.Model):
    TASK, WORKFLOW = "task", "workflow"

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="jobs"
    )
    task_id = models.CharField(max_length=64, unique=True)
    task_path = models.CharField(max_length=255)
    kind = models.CharField(
        max_length=10, choices=[(TASK, "task"), (WORKFLOW, "workflow")], default=TASK
    )
    label = models.CharField(max_length=200)
    args = models.JSONField(default=list, blank=True)
    kwargs = models.JSONField(default=dict, blank=True)
    subject_type = models.ForeignKey(
        ContentType, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    subject_id = models.PositiveBigIntegerField(null=True, blank=True)
    subject = GenericForeignKey("subject_type", "subject_id")
    # One retry per failed job: a double click cannot send the same work twice.
    retry_of = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="retried_by"
    )
    # The status once it is final (see jobs.status): never read from the store again.
    final_status = models.JSONField(null=True, blank=True)
    # When the worker said it ended for good (jobs.in_flight counts what has not).
    finished_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = OwnedQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["subject_type", "subject_id"])]

    def __str__(self) -> str:
        return f"{self.label} ({self.task_id})"

    @property
    def is_workflow(self) -> bool:
        return self.kind == self.WORKFLOW

    @property
    def subject_url(self) -> str:
        """Where the outcome shows (the report page), or '' for tasks about nothing."""
        subject: Any = self.subject
        return subject.get_absolute_url() if subject is not None else ""
