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

Reads are throttled (REFRESH_INTERVAL), so a flood of forged messages is not a flood of
Secrets Manager calls. A message that fails while the throttle holds is judged by when it
was sent: sent before this process last read the keys, it had every chance, and is
refused; sent after, it may carry a key newer than ours, and comes back once we may read
them again (KeysBehind), instead of being dead-lettered as forged.
"""

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from django.utils.crypto import constant_time_compare, salted_hmac

from sqs_tasks import secrets
from sqs_tasks.exceptions import InvalidSignature, KeysBehind

_SALT = "sqs_tasks.envelope"
# A message that verifies with no key makes a worker read the secret again at most this
# often: forged messages must not turn into a flood of Secrets Manager calls.
REFRESH_INTERVAL = 30.0
# Clocks differ a little between SQS and this process: a message counts as sent before
# a read of the keys only when it was sent at least this long before it.
CLOCK_SLACK = 1.0
# Shorter keys are refused: an empty or trivial key signs what anyone can forge.
MIN_KEY_LENGTH = 32


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
        """Read the keys again; False when they cannot have changed, or not yet."""
        return False

    def behind(self, sent_at: float) -> float | None:
        """Seconds until the keys may be read again, if a message sent at `sent_at`
        (epoch seconds) may carry a key newer than the ones held; else None."""
        return None


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
    _refreshed_at: float = field(default=float("-inf"), init=False)  # epoch seconds
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)

    def keys(self) -> Keys:
        return self._parse(secrets.secret_json(self.secret_id))

    def refresh(self) -> bool:
        with self._lock:
            if time.time() - self._refreshed_at < REFRESH_INTERVAL:
                return False
            self._refreshed_at = time.time()
        secrets.secret_json(self.secret_id, force=True)
        return True

    def behind(self, sent_at: float) -> float | None:
        if sent_at + CLOCK_SLACK <= self._refreshed_at:
            return None  # read after it was sent: it had every chance
        return max(0.0, self._refreshed_at + REFRESH_INTERVAL - time.time())

    def _parse(self, value: object) -> Keys:
        if not isinstance(value, dict) or not isinstance(value.get("current"), str):
            raise ValueError(
                f"secret {self.secret_id} is not {{'current': ..., 'previous': [...]}}"
            )
        previous = value.get("previous") or []
        keys = Keys(value["current"], tuple(key for key in previous if isinstance(key, str)))
        if any(len(key) < MIN_KEY_LENGTH for key in keys.all()):
            raise ValueError(
                f"secret {self.secret_id} holds a key shorter than {MIN_KEY_LENGTH} characters"
            )
        return keys


@dataclass(frozen=True, slots=True)
class Signer:
    source: KeySource

    def sign(self, body: str) -> str:
        return _signature(body, self.source.keys().current)

    def verify(self, body: str, signature: str | None, *, sent_at: float | None = None) -> None:
        """Raise InvalidSignature unless one of the keys signed `body`; or KeysBehind when
        the message, sent at `sent_at`, may carry a key too new to have been read yet."""
        if not signature:
            raise InvalidSignature("message has no signature")
        if self._matches(body, signature):
            return
        if self.source.refresh():
            if self._matches(body, signature):
                return  # signed with a key this process had not read yet
        elif sent_at is not None and (wait := self.source.behind(sent_at)) is not None:
            raise KeysBehind(wait)
        raise InvalidSignature("signature does not match any accepted key")

    def _matches(self, body: str, signature: str) -> bool:
        return any(
            constant_time_compare(signature, _signature(body, key))
            for key in self.source.keys().all()
        )


def _signature(body: str, key: str) -> str:
    return salted_hmac(_SALT, body, secret=key, algorithm="sha256").hexdigest()
