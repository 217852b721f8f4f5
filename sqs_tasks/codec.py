"""Envelope <-> SQS message: sign, offload to S3 when large, and the reverse.

The body stays plain JSON so it reads well in the console; the HMAC travels in the
`signature` message attribute and covers the body byte for byte.
"""

from dataclasses import dataclass
from typing import Any

from sqs_tasks.claim_check import POINTER_KEY, PayloadStore, pointer_body
from sqs_tasks.envelope import Envelope, parse_object
from sqs_tasks.signing import Signer

SIGNATURE_ATTRIBUTE = "signature"


@dataclass(frozen=True, slots=True)
class OutgoingMessage:
    task_id: str
    body: str
    attributes: dict[str, dict[str, str]]  # in the SQS API's shape


def string_attribute(value: object) -> dict[str, str]:
    return {"DataType": "String", "StringValue": str(value)}


@dataclass(frozen=True, slots=True)
class MessageCodec:
    signer: Signer
    payloads: PayloadStore
    claim_check_threshold: int

    def encode(self, envelope: Envelope) -> OutgoingMessage:
        body = envelope.to_json()
        if len(body.encode()) > self.claim_check_threshold:
            pointer = self.payloads.put(f"payloads/{envelope.task_id}.json", body)
            body = pointer_body(pointer, id=envelope.task_id, task=envelope.task_path)
        return OutgoingMessage(
            task_id=envelope.task_id,
            body=body,
            attributes={
                SIGNATURE_ATTRIBUTE: string_attribute(self.signer.sign(body)),
                "task_id": string_attribute(envelope.task_id),
                "task_path": string_attribute(envelope.task_path),
            },
        )

    def decode(self, body: str, signature: str | None) -> Envelope:
        """Verify first, then parse: nothing in an unverified body is trusted."""
        self.signer.verify(body, signature)
        data = parse_object(body)
        if POINTER_KEY in data:
            body = self.payloads.get(data[POINTER_KEY], task_id=str(data.get("id", "")))
        return Envelope.from_json(body)

    def claim_check_pointer(self, body: str) -> dict[str, Any] | None:
        data = parse_object(body)
        return data.get(POINTER_KEY)
