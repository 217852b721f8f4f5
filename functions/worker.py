"""The SQS worker's Lambda handler (contract 3): `functions/worker.handler`.

Configuration comes from the environment template.yaml sets on the function. Django is
set up once per cold start; AWS clients are created on first use, not at import.
"""

import os
from typing import Any

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "django_app.settings")
django.setup()

from sqs_tasks.worker.batch import handle_batch  # noqa: E402 - needs Django set up


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return handle_batch(event, context)
