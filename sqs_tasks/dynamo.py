"""Plain Python values <-> DynamoDB attribute values (the low-level client's shape).

The low-level client is used over boto3's resource layer: it is cheaper to import on a
cold start, and numbers come back as int/float instead of Decimal.
"""

from typing import Any


def to_attribute(value: Any) -> dict[str, Any]:
    if value is None:
        return {"NULL": True}
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, int | float):
        return {"N": repr(value)}
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, list | tuple):
        return {"L": [to_attribute(item) for item in value]}
    if isinstance(value, dict):
        return {"M": {key: to_attribute(item) for key, item in value.items()}}
    raise TypeError(f"cannot store {type(value).__name__} in DynamoDB")


def from_attribute(attribute: dict[str, Any]) -> Any:
    ((kind, value),) = attribute.items()
    if kind == "N":
        number = float(value)
        return int(number) if number.is_integer() and "." not in value else number
    if kind == "L":
        return [from_attribute(item) for item in value]
    if kind == "M":
        return from_item(value)
    if kind == "NULL":
        return None
    return value  # S, BOOL


def to_item(values: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {key: to_attribute(value) for key, value in values.items()}


def from_item(item: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return {key: from_attribute(value) for key, value in item.items()}
