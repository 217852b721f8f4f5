"""boto3 clients, created on first use and reused for the life of the process.

Nothing here runs at import time: cold starts pay for a client only when a task path
needs it. boto3 itself honours AWS_ENDPOINT_URL, which the local stack sets.
"""

from functools import cache
from typing import Any

from django.conf import settings

_CONFIG = {
    "retries": {"mode": "standard", "max_attempts": 4},
    "connect_timeout": 5,
    "read_timeout": 20,
}


@cache
def client(service: str) -> Any:
    import boto3
    from botocore.config import Config

    # S3 signs (and presigns) with SigV4: newer regions refuse botocore's SigV2 default.
    extra = {"signature_version": "s3v4"} if service == "s3" else {}
    return boto3.session.Session().client(
        service, region_name=settings.AWS_REGION, config=Config(**_CONFIG, **extra)
    )


def reset_clients() -> None:
    """Forget cached clients, e.g. when tests start a fresh moto backend."""
    client.cache_clear()
