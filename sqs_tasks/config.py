"""The backend's OPTIONS, checked once when the backend is created.

Unknown keys are refused: a typo in settings should fail loudly, not silently keep a default.
"""

from dataclasses import dataclass, field, fields
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from sqs_tasks.signing import SecretKeys, Signer, StaticKeys

DAY = 24 * 3600


@dataclass(frozen=True, slots=True, kw_only=True)
class BackendConfig:
    queue_name_prefix: str = ""
    table_name: str = "tasks"
    bucket_name: str = "task-payloads"
    # The databases whose transactions an enqueue may join: each needs the outbox table
    # (migrate it there). An enqueue joins the atomic block open on one of them; outside
    # any, it commits on the first on its own (README: several databases).
    outbox_databases: tuple[str, ...] = ("default",)
    # Limits tasks may name (limits/options.py): {"exchange-api": Rate(30, per="minute")}.
    limits: dict[str, Any] = field(default_factory=dict)
    # The DynamoDB table of the limits' counters (template.yaml's rate-limits table).
    limits_table: str = "task-limits"
    # Priority lanes: a queue's own SQS queue takes priority 0; each lane its own SQS queue
    # (<queue>-<lane>, with its own worker) and a range: {"default": {"express": (1, 100)}}.
    priority_lanes: dict[str, dict[str, tuple[int, int]]] = field(default_factory=dict)
    # The task queues' RedrivePolicy maxReceiveCount (template.yaml): attempts must fit
    # under it with room for receives that are not attempts (worker/disposition.py).
    max_receive_count: int = 10
    # Attempt policy defaults; each @task may override them.
    max_attempts: int = 3
    retry_on: tuple[str, ...] = ("builtins.Exception",)
    timeout: float = 60.0
    retry_backoff_base: float = 10.0
    retry_backoff_max: float = 3600.0
    # Arguments above this go to S3. The item keeps them too, and every write of an item
    # costs one WRU per KB of it: beyond 8 KB, an S3 PUT and GET cost less than carrying them.
    claim_check_threshold: int = 8 * 1024
    # Arguments above this are refused at enqueue.
    max_payload_bytes: int = 10 * 1024 * 1024
    # Return values above this go to S3, for the same reason.
    result_inline_limit: int = 8 * 1024
    result_ttl: int = 30 * DAY
    # Seconds of Lambda time kept back for recording an outcome after an attempt.
    deadline_margin: float = 5.0
    # Deployed: the Secrets Manager secret holding the signing keys, read at run time
    # (signing.py). Without it, SIGNING_KEY and its fallbacks (default: SECRET_KEY and
    # SECRET_KEY_FALLBACKS) sign and verify.
    signing_secret_id: str = ""
    signing_key: str = ""
    signing_key_fallbacks: tuple[str, ...] = ()

    @classmethod
    def from_options(cls, options: dict[str, Any]) -> "BackendConfig":
        known = {f.name.upper(): f.name for f in fields(cls)}
        unknown = sorted(set(options) - set(known))
        if unknown:
            raise ImproperlyConfigured(f"Unknown TASKS OPTIONS: {', '.join(unknown)}")
        values = {known[key]: value for key, value in options.items()}
        for name in ("retry_on", "signing_key_fallbacks", "outbox_databases"):
            if name in values:
                values[name] = tuple(values[name])
        values.setdefault("signing_key", settings.SECRET_KEY)
        values.setdefault("signing_key_fallbacks", tuple(settings.SECRET_KEY_FALLBACKS))
        if "limits" in values:
            values["limits"] = dict(values["limits"])
        if "priority_lanes" in values:
            values["priority_lanes"] = {
                queue: {lane: (int(low), int(high)) for lane, (low, high) in lanes.items()}
                for queue, lanes in values["priority_lanes"].items()
            }
        config = cls(**values)
        if config.max_attempts < 1 or config.timeout <= 0:
            raise ImproperlyConfigured("MAX_ATTEMPTS must be >= 1 and TIMEOUT > 0.")
        if config.claim_check_threshold > 256 * 1024:
            raise ImproperlyConfigured("CLAIM_CHECK_THRESHOLD must stay under 256 KB.")
        for queue, lanes in config.priority_lanes.items():
            seen: set[int] = set()
            for low, high in lanes.values():
                taken = set(range(low, high + 1))
                if not taken or low < -100 or high > 100 or 0 in taken or taken & seen:
                    raise ImproperlyConfigured(
                        f"PRIORITY_LANES of {queue!r}: ranges within -100..100, apart, and "
                        "without 0 (the queue itself takes priority 0)."
                    )
                seen |= taken
        if not config.outbox_databases:
            raise ImproperlyConfigured("OUTBOX_DATABASES needs at least one database alias.")
        return config

    @property
    def signer(self) -> Signer:
        if self.signing_secret_id:
            return Signer(SecretKeys(self.signing_secret_id))
        return Signer(StaticKeys(self.signing_key, self.signing_key_fallbacks))
