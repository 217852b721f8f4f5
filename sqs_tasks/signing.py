"""HMAC signatures for message bodies, with key rotation.

One key signs; the signing key and every fallback key verify, so keys can rotate while
messages signed with the old key are still in flight (or waiting in a dead-letter queue).
"""

from dataclasses import dataclass

from django.utils.crypto import constant_time_compare, salted_hmac

from sqs_tasks.exceptions import InvalidSignature

_SALT = "sqs_tasks.envelope"


@dataclass(frozen=True, slots=True)
class Signer:
    key: str
    fallback_keys: tuple[str, ...] = ()

    def sign(self, body: str) -> str:
        return self._signature(body, self.key)

    def verify(self, body: str, signature: str | None) -> None:
        if not signature:
            raise InvalidSignature("message has no signature")
        for key in (self.key, *self.fallback_keys):
            if constant_time_compare(signature, self._signature(body, key)):
                return
        raise InvalidSignature("signature does not match any accepted key")

    @staticmethod
    def _signature(body: str, key: str) -> str:
        return salted_hmac(_SALT, body, secret=key, algorithm="sha256").hexdigest()
