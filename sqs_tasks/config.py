"""The backend's OPTIONS, checked once when the backend is created.

Unknown keys are refused: a typo in settings should fail loudly, not silently keep a default.
"""

from dataclasses import dataclass, fields
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from sqs_tasks.signing import Signer

DAY = 24 * 3600


@dataclass(frozen=True, slots=True, kw_only=True)
class BackendConfig:
    queue_name_prefix: str = ""
    table_name: str = "tasks"
    bucket_name: str = "task-payloads"
    # Wait for the surrounding transaction to commit before writing and sending.
    enqueue_on_commit: bool = True
    # Attempt policy defaults; each @task may override them.
    max_attempts: int = 3
    retry_on: tuple[str, ...] = ("builtins.Exception",)
    timeout: float = 60.0
    retry_backoff_base: float = 10.0
    retry_backoff_max: float = 3600.0
    # Bodies above this go to S3 (SQS takes 1 MiB; stay well under it).
    claim_check_threshold: int = 256 * 1024
    # Arguments above this are refused at enqueue.
    max_payload_bytes: int = 10 * 1024 * 1024
    # Return values above this go to S3 (a DynamoDB item takes 400 KB in all).
    result_inline_limit: int = 64 * 1024
    result_ttl: int = 30 * DAY
    # Seconds of Lambda time kept back for recording an outcome after an attempt.
    deadline_margin: float = 5.0
    signing_key: str = ""
    signing_key_fallbacks: tuple[str, ...] = ()

    @classmethod
    def from_options(cls, options: dict[str, Any]) -> "BackendConfig":
        known = {f.name.upper(): f.name for f in fields(cls)}
        unknown = sorted(set(options) - set(known))
        if unknown:
            raise ImproperlyConfigured(f"Unknown TASKS OPTIONS: {', '.join(unknown)}")
        values = {known[key]: value for key, value in options.items()}
        for name in ("retry_on", "signing_key_fallbacks"):
            if name in values:
                values[name] = tuple(values[name])
        values.setdefault("signing_key", settings.SECRET_KEY)
        values.setdefault("signing_key_fallbacks", tuple(settings.SECRET_KEY_FALLBACKS))
        config = cls(**values)
        if config.max_attempts < 1 or config.timeout <= 0:
            raise ImproperlyConfigured("MAX_ATTEMPTS must be >= 1 and TIMEOUT > 0.")
        if config.claim_check_threshold > 900 * 1024:
            raise ImproperlyConfigured("CLAIM_CHECK_THRESHOLD must stay under SQS's 1 MiB.")
        return config

    @property
    def signer(self) -> Signer:
        return Signer(self.signing_key, self.signing_key_fallbacks)
