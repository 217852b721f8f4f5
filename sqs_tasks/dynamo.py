"""Plain Python values <-> DynamoDB attribute values, and UpdateItem calls built from parts.

The low-level client is used over boto3's resource layer: it is cheaper to import on a
cold start, and numbers come back as int/float instead of Decimal. Values that do not fit
DynamoDB's types exactly (NaN, numbers of more than 38 digits, maps with keys that are not
strings) are refused here, before a request is made: the caller decides what that means.
"""

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

MAX_NUMBER_DIGITS = 38  # DynamoDB's precision


def to_attribute(value: Any) -> dict[str, Any]:
    if value is None:
        return {"NULL": True}
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, int | float):
        return {"N": _number(value)}
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, list | tuple):
        return {"L": [to_attribute(item) for item in value]}
    if isinstance(value, Mapping):
        if not all(isinstance(key, str) for key in value):
            raise TypeError("DynamoDB map keys must be strings")
        return {"M": {key: to_attribute(item) for key, item in value.items()}}
    raise TypeError(f"cannot store {type(value).__name__} in DynamoDB")


def _number(value: int | float) -> str:
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"DynamoDB cannot store {value!r}")
    text = repr(value)
    if len(text.lstrip("-").replace(".", "").split("e")[0].lstrip("0")) > MAX_NUMBER_DIGITS:
        raise ValueError(f"{text} has more digits than DynamoDB keeps ({MAX_NUMBER_DIGITS})")
    return text


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


def to_item(values: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    return {key: to_attribute(value) for key, value in values.items()}


def from_item(item: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return {key: from_attribute(value) for key, value in item.items()}


_NAME = re.compile(r"#(\w+)")


@dataclass(slots=True)
class Update:
    """One UpdateItem: what it sets, appends, adds and removes, and when it may happen.

    Every attribute is named through a `#placeholder` (so DynamoDB's reserved words never
    matter), and every value through `:placeholder`. Conditions are written as DynamoDB
    expressions over `#name` and `:value`, with the values given by keyword; a `#name`
    that is not the attribute's own name (a map key such as a task id) is given with
    `names`:

        Update().set("status", "RUNNING").add("attempts", 1)
                .when("#status = :ready", ready="READY")
    """

    _set: dict[str, str] = field(default_factory=dict)  # left side -> right side
    _add: dict[str, str] = field(default_factory=dict)
    _remove: list[str] = field(default_factory=list)
    _conditions: list[str] = field(default_factory=list)
    _names: dict[str, str] = field(default_factory=dict)  # placeholder -> attribute name
    _values: dict[str, Any] = field(default_factory=dict)

    def set(self, name: str, value: Any) -> "Update":
        self._set[self._name(name)] = self._value(name, value)
        return self

    def set_expression(self, name: str, expression: str, **values: Any) -> "Update":
        """SET name = <expression>, e.g. `if_not_exists(#started_at, :now)`."""
        self._set[self._name(name)] = self._expression(expression, values, {})
        return self

    def set_path(self, name: str, key: str, value: Any) -> "Update":
        """SET name.key = value, in a map attribute; `key` may be any string."""
        self._set[self._path(name, key)] = self._value(name, value)
        return self

    def append(self, name: str, items: list[Any]) -> "Update":
        if items:
            self._set[self._name(name)] = f"list_append(#{name}, {self._value(name, items)})"
        return self

    def add(self, name: str, amount: int) -> "Update":
        self._add[self._name(name)] = self._value(name, amount)
        return self

    def remove(self, *names: str) -> "Update":
        for name in names:
            placeholder = self._name(name)
            if placeholder not in self._remove:
                self._remove.append(placeholder)
        return self

    def remove_path(self, name: str, key: str) -> "Update":
        self._remove.append(self._path(name, key))
        return self

    def when(
        self, condition: str, *, names: dict[str, str] | None = None, **values: Any
    ) -> "Update":
        self._conditions.append(f"({self._expression(condition, values, names or {})})")
        return self

    def request(self) -> dict[str, Any]:
        """The keyword arguments of `update_item` (without TableName and Key)."""
        clauses = []
        if self._set:
            clauses.append("SET " + ", ".join(f"{n} = {v}" for n, v in self._set.items()))
        if self._add:
            clauses.append("ADD " + ", ".join(f"{n} {v}" for n, v in self._add.items()))
        if self._remove:
            clauses.append("REMOVE " + ", ".join(self._remove))
        request: dict[str, Any] = {
            "UpdateExpression": " ".join(clauses),
            "ExpressionAttributeNames": dict(sorted(self._names.items())),
        }
        if self._values:
            request["ExpressionAttributeValues"] = to_item(self._values)
        if self._conditions:
            request["ConditionExpression"] = " AND ".join(self._conditions)
        return request

    def _name(self, name: str) -> str:
        self._names[f"#{name}"] = name
        return f"#{name}"

    def _path(self, name: str, key: str) -> str:
        placeholder = f"#k{len(self._names)}"
        self._names[placeholder] = key
        return f"{self._name(name)}.{placeholder}"

    def _value(self, name: str, value: Any) -> str:
        placeholder = f":v{len(self._values)}_{name}"
        self._values[placeholder] = value
        return placeholder

    def _expression(self, expression: str, values: dict[str, Any], names: dict[str, str]) -> str:
        """Register the expression's `#names` (an attribute's own, or from `names`), and
        give its `:values` unique placeholders."""
        for found in dict.fromkeys(_NAME.findall(expression)):
            if found in names:
                placeholder = f"#n{len(self._names)}"
                self._names[placeholder] = names[found]
                expression = re.sub(rf"#{found}\b", placeholder, expression)
            else:
                self._names[f"#{found}"] = found
        for key in sorted(values, key=len, reverse=True):
            placeholder = f":c{len(self._values)}_{key}"
            self._values[placeholder] = values[key]
            expression = re.sub(rf":{key}\b", placeholder, expression)
        return expression
