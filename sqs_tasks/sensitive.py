"""Sensitive arguments: kept out of everything the task system stores or logs.

    @task(sensitive=("api_token",))
    def sync_account(account_id: int, api_token: str) -> None: ...

Better still, pass a reference (a row id, a Secrets Manager name) and read the secret in
the task. When a value must travel, naming its parameter in `sensitive` keeps it out of
the message body (and so out of dead letters), the result item, `get_result`, the app's
own records of the call, errors and logs, and backups. Where the values do go:

- at enqueue they are taken out of the call, which keeps "[redacted]" in their place, and
  stored as one S3 object under `sensitive/` (a retention tier that outlives the task, like
  claim-checked arguments; random name, so its key says nothing of its content), which
  only the workers' role may read. The signed envelope carries a pointer to it and an HMAC
  of its content under the signing key (no plain hash: a low-entropy secret's hash can
  be guessed back).
- the worker reads the object, checks the HMAC, puts the values back, and runs the task;
  an error message or traceback that quotes a value has it replaced by "[redacted]".
"""

import inspect
import json
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.tasks import Task

from sqs_tasks import aws
from sqs_tasks.claim_check import retention_tier
from sqs_tasks.exceptions import MissingPayload
from sqs_tasks.signing import Signer

REDACTED = "[redacted]"
# Values shorter than this are not scrubbed from error text: "1" or "ok" would blank out
# half of every message, and are no secret worth the noise.
SCRUB_MIN_LENGTH = 4


@dataclass(frozen=True, slots=True)
class SealedRef:
    """Where a task's sensitive values are, and the HMAC their content must match."""

    bucket: str
    key: str
    mac: str

    def as_dict(self) -> dict[str, str]:
        return {"bucket": self.bucket, "key": self.key, "mac": self.mac}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "SealedRef":
        return cls(bucket=str(data["bucket"]), key=str(data["key"]), mac=str(data["mac"]))


@dataclass(frozen=True, slots=True)
class Values:
    """The sensitive values of one call: positional ones by index, keywords by name."""

    args: dict[int, Any]
    kwargs: dict[str, Any]

    def to_json(self) -> str:
        return json.dumps(
            {"args": {str(i): v for i, v in self.args.items()}, "kwargs": self.kwargs},
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, text: str) -> "Values":
        data = json.loads(text)
        return cls({int(i): v for i, v in data["args"].items()}, dict(data["kwargs"]))

    def texts(self) -> list[str]:
        """The values as they could appear in an error message: each whole, and every
        string and number inside one (an error quotes a dict's password, not the dict)."""
        found: list[str] = []
        for value in (*self.args.values(), *self.kwargs.values()):
            found.append(str(value))
            found += _leaves(value)
        return sorted({text for text in found if len(text) >= SCRUB_MIN_LENGTH})


def _leaves(value: Any) -> list[str]:
    match value:
        case dict():
            return [text for item in value.values() for text in _leaves(item)]
        case list() | tuple():
            return [text for item in value for text in _leaves(item)]
        case bool() | None:
            return []
        case _:
            return [str(value)]


def check_names(task: Task, names: tuple[str, ...]) -> None:
    """ValueError unless every name is a parameter of the task's function."""
    parameters = inspect.signature(task.func).parameters
    unknown = [name for name in names if name not in parameters]
    if unknown:
        raise ValueError(f"sensitive names no parameter of {task.name}: {', '.join(unknown)}")
    stars = {inspect.Parameter.VAR_POSITIONAL: "*", inspect.Parameter.VAR_KEYWORD: "**"}
    variadic = [stars[parameters[n].kind] + n for n in names if parameters[n].kind in stars]
    if variadic:
        raise ValueError(
            f"sensitive cannot name {variadic[0]} of {task.name}: "
            "give each secret a parameter of its own"
        )


def split(
    task: Task, names: tuple[str, ...], args: list[Any], kwargs: dict[str, Any]
) -> tuple[list[Any], dict[str, Any], Values]:
    """(args and kwargs with the sensitive values redacted, those values)."""
    positional = [
        name
        for name, parameter in inspect.signature(task.func).parameters.items()
        if parameter.kind in (parameter.POSITIONAL_ONLY, parameter.POSITIONAL_OR_KEYWORD)
    ]
    if task.takes_context:
        positional = positional[1:]  # the context is not an argument of the call
    values = Values({}, {})
    args, kwargs = list(args), dict(kwargs)
    for name in names:
        if name in kwargs:
            values.kwargs[name] = kwargs[name]
            kwargs[name] = REDACTED
        elif name in positional and positional.index(name) < len(args):
            index = positional.index(name)
            values.args[index] = args[index]
            args[index] = REDACTED
    return args, kwargs, values


def merge(args: list[Any], kwargs: dict[str, Any], values: Values) -> tuple[list, dict]:
    args, kwargs = list(args), dict(kwargs)
    for index, value in values.args.items():
        args[index] = value
    kwargs.update(values.kwargs)
    return args, kwargs


def redact(args: list[Any], kwargs: dict[str, Any], values: Values | None) -> tuple[list, dict]:
    """The call as it is shown: `merge` undone."""
    if values is None:
        return args, kwargs
    shown = Values(dict.fromkeys(values.args, REDACTED), dict.fromkeys(values.kwargs, REDACTED))
    return merge(args, kwargs, shown)


def scrub(text: str, values: Values | None) -> str:
    if values is None:
        return text
    for secret in sorted(values.texts(), key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    return text


def seal(values: Values, *, bucket: str, signer: Signer, lifetime: timedelta) -> SealedRef:
    text = values.to_json()
    key = f"sensitive/d{retention_tier(lifetime)}/{uuid.uuid4().hex}.json"
    aws.client("s3").put_object(
        Bucket=bucket,
        Key=key,
        Body=text.encode(),
        ContentType="application/json",
        ServerSideEncryption="AES256",
    )
    return SealedRef(bucket=bucket, key=key, mac=signer.sign(text))


def unseal(ref: SealedRef, *, signer: Signer, task_id: str = "") -> Values:
    text = _read(ref, task_id)
    try:
        signer.verify(text, ref.mac)
    except Exception:
        raise MissingPayload("the task's sensitive values do not match", task_id=task_id) from None
    return Values.from_json(text)


def reseal(ref: SealedRef, *, signer: Signer, task_id: str = "") -> SealedRef:
    """The same object under an HMAC by today's key. A task deferred for weeks waits
    longer than a retired key is kept; each fresh copy of its message (every day or so,
    worker/copies.py) carries a MAC its worker can still check. A MAC that does not verify
    is kept as it is: the worker that runs the task says so."""
    text = _read(ref, task_id)
    try:
        signer.verify(text, ref.mac)
    except Exception:
        return ref
    return SealedRef(bucket=ref.bucket, key=ref.key, mac=signer.sign(text))


def _read(ref: SealedRef, task_id: str) -> str:
    s3 = aws.client("s3")
    try:
        return s3.get_object(Bucket=ref.bucket, Key=ref.key)["Body"].read().decode()
    except s3.exceptions.NoSuchKey:
        raise MissingPayload("the task's sensitive values are gone", task_id=task_id) from None
