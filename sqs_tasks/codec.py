"""Envelope <-> SQS message: sign, and verify before anything in a body is trusted.

The body stays plain JSON so it reads well in the console; the HMAC travels in the
`signature` message attribute and covers the body byte for byte. Large arguments were
already moved to S3 when the envelope was made (claim_check.py), so a body is small.
"""

from dataclasses import dataclass

from sqs_tasks.envelope import Envelope
from sqs_tasks.signing import Signer

SIGNATURE_ATTRIBUTE = "signature"


@dataclass(frozen=True, slots=True)
class OutgoingMessage:
    task_id: str
    body: str
    attributes: dict[str, dict[str, str]]  # in the SQS API's shape
    # A fair queue's tenant (SQS keeps one group's burst from starving the others).
    group: str | None = None


def string_attribute(value: object) -> dict[str, str]:
    return {"DataType": "String", "StringValue": str(value)}


@dataclass(frozen=True, slots=True)
class MessageCodec:
    signer: Signer

    def encode(self, envelope: Envelope) -> OutgoingMessage:
        body = envelope.to_json()
        return OutgoingMessage(
            task_id=envelope.task_id,
            body=body,
            attributes={
                SIGNATURE_ATTRIBUTE: string_attribute(self.signer.sign(body)),
                "task_id": string_attribute(envelope.task_id),
                "task_path": string_attribute(envelope.task_path),
            },
            group=envelope.message_group,
        )

    def decode(self, body: str, signature: str | None, *, sent_at: float | None = None) -> Envelope:
        """Verify first, then parse: nothing in an unverified body is trusted."""
        self.signer.verify(body, signature, sent_at=sent_at)
        return Envelope.from_json(body)
