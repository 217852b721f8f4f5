"""Secrets read at run time, never resolved into a function's configuration.

A value CloudFormation resolves into a function's environment is readable by anyone with
`lambda:GetFunctionConfiguration` (part of ReadOnlyAccess), and never changes until the
next deploy. Secrets are read instead from Secrets Manager with Powertools' parameters
utility, kept for MAX_AGE seconds per execution environment, and read again on demand
(`force`) when a value seems to have rotated.
"""

import threading
from typing import Any

from sqs_tasks import aws

MAX_AGE = 300  # seconds a value is kept before it is read again
_lock = threading.Lock()
_provider: Any = None


def secret_json(secret_id: str, *, force: bool = False) -> Any:
    """The secret's value, parsed as JSON."""
    return _secrets().get(secret_id, max_age=MAX_AGE, transform="json", force_fetch=force)


def secret_text(secret_id: str, *, force: bool = False) -> str:
    return _secrets().get(secret_id, max_age=MAX_AGE, force_fetch=force)


def forget() -> None:
    """Drop every kept value: after a SnapStart restore, and in tests."""
    global _provider
    with _lock:
        _provider = None


def _secrets() -> Any:
    """One provider (and cache) per process. Its client is the patient one even when the
    first read happens in a prompt block (aws.prompt): a cache keyed on whichever client
    asked would be dropped, and the secret read again, each time the caller's context
    changed; a key source then sees keys it has not refreshed (signing.py)."""
    global _provider
    from aws_lambda_powertools.utilities.parameters import SecretsProvider

    client = aws.patient_client("secretsmanager")
    with _lock:
        if _provider is None or _provider.client is not client:  # a fresh moto, in tests
            _provider = SecretsProvider(boto3_client=client)
        return _provider
