"""A task's return value, made storable right after its body returns.

Serialising at once, strictly (strict_json.py), means a value that cannot be stored is
found while the attempt is still the body's: the task fails once with that error, instead
of failing to record a success and running its body again.
"""

from typing import Any

from sqs_tasks import strict_json
from sqs_tasks.exceptions import UnstorableResult


def encode_return_value(value: Any) -> str:
    try:
        return strict_json.dumps(value)
    except ValueError as error:
        raise UnstorableResult(f"the return value cannot be stored as JSON: {error}") from None
