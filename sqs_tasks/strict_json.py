"""JSON that comes back as it went: the one encoding of arguments and return values.

Strict means JSON's types only (after Django's normalize_json: tuples become lists),
string keys (JSON would turn `{1: "one"}` into `{"1": "one"}`), and no NaN or infinity
(which JSON has no spelling for). Anything else is refused with ValueError.
"""

import json
import math
from typing import Any

from django.utils.json import normalize_json


def dumps(value: Any) -> str:
    try:
        normalized = normalize_json(value)
        _check(normalized)
        return json.dumps(normalized, separators=(",", ":"), allow_nan=False)
    except (TypeError, RecursionError) as error:
        raise ValueError(str(error)) from None


def _check(value: Any) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise ValueError(f"a key of {type(key).__name__} would come back as a string")
            _check(item)
    elif isinstance(value, list):
        for item in value:
            _check(item)
    elif isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{value!r} is not JSON")


def normalized(value: Any) -> Any:
    """The value as it will come back: what `dumps` keeps, read again."""
    return json.loads(dumps(value))
