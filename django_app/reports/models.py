"""Uploads (CSV files in S3) and the reports built from them.

Both are owned rows (see django_app.ownership). A report names its S3 objects with a
random token, so its keys cannot be guessed from its id; the database row keeps only
the keys and the headline numbers, and the report itself lives in S3.

A report reads one upload (built by the `build_report` task) or several at once (built by
a workflow, reports/workflows.py, whose id the row keeps): `upload` is its file, or the
first of its `files`.
"""

import uuid
from pathlib import PurePosixPath

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils.text import slugify

from django_app.ownership import OwnedQuerySet


class Upload(models.Model):
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="uploads"
    )
    key = models.CharField(max_length=512, unique=True)
    filename = models.CharField(max_length=255)
    size = models.PositiveBigIntegerField()
    columns = models.JSONField(default=list)
    preview = models.JSONField(default=list)  # the first few rows, as read at upload
    created_at = models.DateTimeField(auto_now_add=True)

    objects = OwnedQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.filename

    def get_absolute_url(self) -> str:
        return reverse("reports:upload", args=[self.pk])


class Report(models.Model):
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="reports"
    )
    upload = models.ForeignKey(Upload, on_delete=models.CASCADE, related_name="reports")
    # A report over several files: all of them, `upload` (the first) included; else none.
    files = models.ManyToManyField(Upload, blank=True, related_name="combined_reports")
    workflow_id = models.CharField(max_length=64, blank=True)  # the newest building it
    token = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    group_by = models.JSONField(default=list, blank=True)
    summary = models.JSONField(null=True, blank=True)  # Summary.headline(), once built
    html_key = models.CharField(max_length=512, blank=True)
    csv_key = models.CharField(max_length=512, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    emailed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = OwnedQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Report on {self.title}"

    def get_absolute_url(self) -> str:
        return reverse("reports:detail", args=[self.pk])

    @property
    def sources(self) -> list[Upload]:
        """The files it reads, in order (prefetch `files` for a list of reports)."""
        return sorted(self.files.all(), key=lambda upload: upload.pk) or [self.upload]

    @property
    def title(self) -> str:
        """What it is a report on: its file's name, or its files'."""
        names = [upload.filename for upload in self.sources]
        if len(names) == 1:
            return names[0]
        if len(names) <= 3:
            return f"{', '.join(names[:-1])} and {names[-1]}"
        return f"{names[0]} and {len(names) - 1} more files"

    @property
    def source_keys(self) -> list[str]:
        return [upload.key for upload in self.sources]

    @property
    def is_ready(self) -> bool:
        return bool(self.html_key and self.csv_key)

    @property
    def keys(self) -> list[str]:
        """The report's files in S3 (none before it is built)."""
        return [key for key in (self.html_key, self.csv_key) if key]

    @property
    def download_name(self) -> str:
        """A safe file name for downloads: from the upload's name, ASCII only."""
        stem = slugify(PurePosixPath(self.upload.filename).stem) or "data"
        return f"{stem}-report"

    @property
    def grouping(self) -> str:
        return ", ".join(self.group_by) or "no grouping"
