"""boto3 clients, created on first use and reused for the life of the process.

Nothing here runs at import time: cold starts pay for a client only when a task path
needs it. One session serves every client, so botocore loads its data once. boto3 itself
honours AWS_ENDPOINT_URL, which the local stack sets.
"""

import threading
from functools import cache
from typing import Any

from django.conf import settings

_CONFIG = {
    "retries": {"mode": "standard", "max_attempts": 4},
    "connect_timeout": 5,
    "read_timeout": 20,
}
# A boto3 session is not safe to create clients from in several threads at once (the web
# app's first requests may race); clients themselves are.
_lock = threading.Lock()


@cache
def _models() -> Any:
    """botocore's loader of service models, shared by every session: reading a model costs
    tens of milliseconds per service, the models never change, and they hold no credential.
    Kept across reset_clients(), so SnapStart's snapshot keeps them (sqs_tasks.snapstart)."""
    from botocore.loaders import create_loader

    return create_loader()


@cache
def _session() -> Any:
    import boto3

    session = boto3.session.Session()
    session._session.register_component("data_loader", _models())
    return session


def client(service: str) -> Any:
    with _lock:
        return _client(service)


@cache
def _client(service: str) -> Any:
    from botocore.config import Config

    # S3 signs (and presigns) with SigV4: newer regions refuse botocore's SigV2 default.
    extra = {"signature_version": "s3v4"} if service == "s3" else {}
    return _session().client(
        service, region_name=settings.AWS_REGION, config=Config(**_CONFIG, **extra)
    )


def reset_clients() -> None:
    """Forget cached clients and their session (their connections and credentials), e.g.
    when tests start a fresh moto, or around a SnapStart snapshot."""
    with _lock:
        _client.cache_clear()
        _session.cache_clear()
