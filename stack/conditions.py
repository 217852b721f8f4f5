"""The template's conditions decided for one set of parameters, as CloudFormation decides them
before it creates anything: what a deploy with those parameters would make.

`deployed` keeps the resources (and outputs) whose Condition holds and resolves every
`Fn::If` to its branch, dropping what a branch leaves as `AWS::NoValue`; Refs, Subs and
GetAtts stay as written. It reads the condition functions CloudFormation allows in the
Conditions section (Fn::Equals, Not, And, Or, a Condition by name) over parameter values,
and Fn::Join over a list parameter; anything else is refused, not guessed.
"""

import copy
from collections.abc import Mapping
from typing import Any

from sqs_tasks.infra.cfn import TemplateError, parameter_values
from stack.template import Template

NO_VALUE = {"Ref": "AWS::NoValue"}
_DROPPED = object()


def deployed(template: Template, parameters: Mapping[str, str] | None = None) -> Template:
    """The template as a deploy with these parameters (the defaults where none is given)
    would make it: conditions decided, resources and outputs they leave out dropped."""
    decided = decide_conditions(template, parameters)
    result = copy.deepcopy(template)
    for section in ("Resources", "Outputs"):
        kept = {
            logical_id: declaration
            for logical_id, declaration in (result.get(section) or {}).items()
            if decided.get(declaration.get("Condition", ""), True)
        }
        result[section] = {name: _resolve(resource, decided) for name, resource in kept.items()}
    return result


def decide_conditions(
    template: Template, parameters: Mapping[str, str] | None = None
) -> dict[str, bool]:
    """Each condition's value for these parameters."""
    values = parameter_values(template, parameters)
    list_parameters = {
        name
        for name, declaration in (template.get("Parameters") or {}).items()
        if declaration.get("Type") == "CommaDelimitedList"
    }
    conditions = template.get("Conditions") or {}
    decided: dict[str, bool] = {}

    def value(node: Any) -> Any:
        if isinstance(node, str):
            return node
        if isinstance(node, dict) and set(node) == {"Ref"} and node["Ref"] in values:
            found = values[node["Ref"]]
            return found.split(",") if node["Ref"] in list_parameters else found
        if isinstance(node, dict) and set(node) == {"Fn::Join"}:
            delimiter, items = node["Fn::Join"]
            return delimiter.join(str(value(item)) for item in _as_list(value(items)))
        raise TemplateError(f"a condition needs a value known before deploy: {node}")

    def holds(node: Any) -> bool:
        if not (isinstance(node, dict) and len(node) == 1):
            raise TemplateError(f"not a condition: {node}")
        ((function, arguments),) = node.items()
        if function == "Condition":
            return condition(arguments)
        if function == "Fn::Equals":
            left, right = arguments
            return value(left) == value(right)
        if function == "Fn::Not":
            (inner,) = arguments
            return not holds(inner)
        if function == "Fn::And":
            return all(holds(inner) for inner in arguments)
        if function == "Fn::Or":
            return any(holds(inner) for inner in arguments)
        raise TemplateError(f"{function} is not a condition function")

    def condition(name: str) -> bool:
        if name not in decided:
            if name not in conditions:
                raise TemplateError(f"no condition named {name}")
            decided[name] = holds(conditions[name])
        return decided[name]

    for name in conditions:
        condition(name)
    return decided


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _resolve(node: Any, decided: Mapping[str, bool]) -> Any:
    if isinstance(node, list):
        items = [_resolve(item, decided) for item in node]
        return [item for item in items if item is not _DROPPED]
    if not isinstance(node, dict):
        return node
    if node == NO_VALUE:
        return _DROPPED
    if set(node) == {"Fn::If"}:
        name, when_true, when_false = node["Fn::If"]
        if name not in decided:
            raise TemplateError(f"Fn::If names no condition: {name}")
        return _resolve(when_true if decided[name] else when_false, decided)
    resolved = {key: _resolve(value, decided) for key, value in node.items()}
    return {key: value for key, value in resolved.items() if value is not _DROPPED}
