"""boto3 clients, created on first use and reused for the life of the process.

Nothing here runs at import time: cold starts pay for a client only when a task path
needs it. One session serves every client, so botocore loads its data once. boto3 itself
honours AWS_ENDPOINT_URL, which the local stack sets.
"""

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import cache
from typing import Any

from django.conf import settings

_CONFIG = {
    "retries": {"mode": "standard", "max_attempts": 4},
    "connect_timeout": 5,
    "read_timeout": 20,
}
# Calls made while someone waits on them (the relay after a web request's commit): a few
# seconds at worst, then give up and leave the work to whoever comes next (relay-outbox).
# API Gateway ends a request at 29 s; the defaults above could take minutes.
_PROMPT_CONFIG = {
    "retries": {"mode": "standard", "max_attempts": 2},
    "connect_timeout": 2,
    "read_timeout": 4,
}


def _call_limit(config: dict) -> float:
    """The longest one call can take: each attempt's connect and read timeouts, and
    botocore's pause before each retry (standard mode: up to 2 ** i s, and 5 s more when AWS
    asks for it with x-amz-retry-after). The timeouts bound each socket operation, not name
    resolution: a call may, rarely, overrun; LEASE_SLACK and the worker's margin absorb it."""
    attempts = config["retries"]["max_attempts"]
    return float(
        attempts * (config["connect_timeout"] + config["read_timeout"])
        + sum(2**i + 5 for i in range(attempts - 1))
    )


CALL_LIMIT = _call_limit(_CONFIG)
PROMPT_CALL_LIMIT = _call_limit(_PROMPT_CONFIG)
_prompt: ContextVar[bool] = ContextVar("sqs_tasks_aws_prompt", default=False)
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
        return _client(service, _prompt.get())


def prompting() -> bool:
    """Whether this context's clients are the prompt ones (see prompt)."""
    return _prompt.get()


@contextmanager
def prompt() -> Iterator[None]:
    """Within this block (and in what it runs with its context: see outbox.deliver),
    clients give up after seconds, not minutes."""
    token = _prompt.set(True)
    try:
        yield
    finally:
        _prompt.reset(token)


class Events:
    """botocore's event hooks on every client of one service, the patient and the prompt
    (to observe calls, or to make AWS refuse one in a test, whichever client makes it)."""

    def __init__(self, service: str) -> None:
        self.service = service

    def register(self, event_name: str, handler: Any, unique_id: str | None = None) -> None:
        for emitter in self._emitters():
            emitter.register(event_name, handler, unique_id=unique_id)

    def unregister(
        self, event_name: str, handler: Any = None, unique_id: str | None = None
    ) -> None:
        for emitter in self._emitters():
            emitter.unregister(event_name, handler, unique_id=unique_id)

    def _emitters(self) -> list[Any]:
        with _lock:
            return [_client(self.service, prompt).meta.events for prompt in (False, True)]


def events(service: str) -> Events:
    return Events(service)


@cache
def _client(service: str, prompt: bool = False) -> Any:
    from botocore.config import Config

    # S3 signs (and presigns) with SigV4: newer regions refuse botocore's SigV2 default.
    extra = {"signature_version": "s3v4"} if service == "s3" else {}
    config = _PROMPT_CONFIG if prompt else _CONFIG
    return _session().client(
        service, region_name=settings.AWS_REGION, config=Config(**config, **extra)
    )


def patient_client(service: str) -> Any:
    """The client that waits for AWS as long as it takes, whatever the caller's context:
    for what outlives the call that made it (secrets.py keeps its cache on it)."""
    with _lock:
        return _client(service, False)


def reset_clients() -> None:
    """Forget cached clients and their session (their connections and credentials), e.g.
    when tests start a fresh moto, or around a SnapStart snapshot."""
    with _lock:
        _client.cache_clear()
        _session.cache_clear()
