from datetime import UTC, datetime

import pytest
from moto.s3.models import s3_backends

from tests.helpers import REGION

BUCKET = "app-test-payloads"
BACKUP_BUCKET = "app-test-backups"  # settings.BACKUP_BUCKET: a bucket of its own
SENDER = "tasks@example.com"


def backdate(key: str, when: datetime, bucket: str = BUCKET) -> None:
    """Age an S3 object: moto stamps LastModified with the real time, and tests cannot
    wait a month."""
    stored = s3_backends["123456789012"]["aws"].buckets[bucket].keys[key]
    stored.last_modified = when.astimezone(UTC).replace(tzinfo=None)


@pytest.fixture
def operators(settings):
    settings.OPERATOR_EMAILS = ["ops@example.com", "oncall@example.com"]
    settings.DEFAULT_FROM_EMAIL = SENDER
    return settings.OPERATOR_EMAILS


@pytest.fixture
def ses(aws, operators):
    """SES in moto, with the sender verified as SES requires, and django-ses as the mail
    backend (the test runner swaps in locmem otherwise)."""
    import boto3

    boto3.client("ses", region_name=REGION).verify_email_identity(EmailAddress=SENDER)
    from django.test import override_settings

    with override_settings(MAILERS={"default": {"BACKEND": "django_ses.SESBackend"}}):
        yield


def now() -> datetime:
    return datetime.now(UTC)


def set_result_attribute(task_id: str, name: str, value: object) -> None:
    """Rewrite one attribute of a stored result, e.g. to move it back in time."""
    from django.tasks import default_task_backend

    from sqs_tasks import aws
    from sqs_tasks.dynamo import to_attribute

    aws.client("dynamodb").update_item(
        TableName=default_task_backend.results.table_name,
        Key={"id": {"S": task_id}},
        UpdateExpression="SET #name = :value",
        ExpressionAttributeNames={"#name": name},
        ExpressionAttributeValues={":value": to_attribute(value)},
    )
