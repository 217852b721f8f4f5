"""HMAC signatures for message bodies, with key rotation.

One key signs; it and every previous key verify, so keys can rotate while messages
signed with an old key are still in flight, or waiting in a dead-letter queue to be
redriven. Keys come from the settings (local runs, tests) or, deployed, from a dedicated
Secrets Manager secret read at run time:

    {"current": "<key that signs>", "previous": ["<keys that still verify>", ...]}

Rotating: put the new key in "current" and move the old one to "previous" (keep it there
as long as the dead-letter queues keep messages: 14 days). Senders that read the secret
after the change sign with the new key; a worker that still holds the old value and meets
a signature it does not know reads the secret again, once, and tries once more.
"""

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from django.utils.crypto import constant_time_compare, salted_hmac

from sqs_tasks import secrets
from sqs_tasks.exceptions import InvalidSignature

_SALT = "sqs_tasks.envelope"
# A message that verifies with no key makes a worker read the secret again at most this
# often: forged messages must not turn into a flood of Secrets Manager calls.
REFRESH_INTERVAL = 30.0


@dataclass(frozen=True, slots=True)
class Keys:
    current: str
    previous: tuple[str, ...] = ()

    def all(self) -> tuple[str, ...]:
        return (self.current, *self.previous)


class KeySource:
    """Where the keys come from; `refresh` reads them again if they can change."""

    def keys(self) -> Keys:
        raise NotImplementedError

    def refresh(self) -> bool:
        """Read the keys again; False when they cannot have changed."""
        return False


@dataclass(frozen=True, slots=True)
class StaticKeys(KeySource):
    """Keys from the settings: SECRET_KEY and SECRET_KEY_FALLBACKS by default."""

    key: str
    fallbacks: Sequence[str] = ()

    def keys(self) -> Keys:
        return Keys(self.key, tuple(self.fallbacks))


@dataclass(slots=True)
class SecretKeys(KeySource):
    """Keys from a Secrets Manager secret, kept per process (secrets.MAX_AGE)."""

    secret_id: str
    _last_refresh: float = field(default=float("-inf"), init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)

    def keys(self) -> Keys:
        return self._parse(secrets.secret_json(self.secret_id))

    def refresh(self) -> bool:
        with self._lock:
            if time.monotonic() - self._last_refresh < REFRESH_INTERVAL:
                return False
            self._last_refresh = time.monotonic()
        secrets.secret_json(self.secret_id, force=True)
        return True

    def _parse(self, value: object) -> Keys:
        if not isinstance(value, dict) or not isinstance(value.get("current"), str):
            raise ValueError(
                f"secret {self.secret_id} is not {{'current': ..., 'previous': [...]}}"
            )
        previous = value.get("previous") or []
        return Keys(value["current"], tuple(key for key in previous if isinstance(key, str)))


@dataclass(frozen=True, slots=True)
class Signer:
    source: KeySource

    def sign(self, body: str) -> str:
        return _signature(body, self.source.keys().current)

    def verify(self, body: str, signature: str | None) -> None:
        if not signature:
            raise InvalidSignature("message has no signature")
        if self._matches(body, signature):
            return
        if self.source.refresh() and self._matches(body, signature):
            return  # signed with a key this process had not read yet
        raise InvalidSignature("signature does not match any accepted key")

    def _matches(self, body: str, signature: str) -> bool:
        return any(
            constant_time_compare(signature, _signature(body, key))
            for key in self.source.keys().all()
        )


def _signature(body: str, key: str) -> str:
    return salted_hmac(_SALT, body, secret=key, algorithm="sha256").hexdigest()
