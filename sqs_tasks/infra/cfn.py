"""template.yaml after the AWS::LanguageExtensions transform, computed locally.

template.yaml declares every task queue once: a `Fn::ForEach` loop over the TaskQueues
parameter makes each queue's resources, and `Fn::FindInMap` with a `DefaultValue` reads the
queue's settings from Mappings (or the default beside it). CloudFormation expands both on
`sam deploy`; samtranslator, moto and this project's checks know neither, so `expand` does
what the transform does for them, as its reference describes it:

- `Fn::ForEach::Name: [Identifier, Collection, Fragment]` in any mapping becomes one copy of
  Fragment per item of Collection (a list, or a Ref to a CommaDelimitedList parameter), with
  `${Identifier}` in every key and string replaced by the item, `&{Identifier}` by the item
  without its non-alphanumeric characters, and `{"Ref": Identifier}` by the item. Loops nest.
  A logical id built by `Fn::Sub` (`!Ref {Fn::Sub: "Queue${Queue}"}`, `!GetAtt [!Sub ...,
  Arn]`) becomes the plain name the transform hands on.
- `Fn::FindInMap: [Map, TopKey, SecondKey, {DefaultValue: value}]` becomes the mapped value,
  or the default when the map has no such keys. Its keys may be literals or Refs to
  parameters (resolved with the parameter values given, else the defaults).

Everything else is left for CloudFormation, as the transform leaves it.
"""

import copy
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

Template = dict[str, Any]

LANGUAGE_EXTENSIONS = "AWS::LanguageExtensions"
_FOR_EACH = re.compile(r"^Fn::ForEach::[A-Za-z0-9]+$")
_NOT_ALPHANUMERIC = re.compile(r"[^A-Za-z0-9]")


class TemplateError(ValueError):
    """The template uses the language extensions in a way CloudFormation would refuse."""


def load_template(path: Path) -> Template:
    """The template as written, short-form intrinsics (!Sub ...) in their long form."""
    return parse_yaml(path.read_text(encoding="utf-8"))


def parse_yaml(text: str) -> Any:
    """YAML in CloudFormation's dialect: `!Ref X` is {"Ref": "X"}, `!GetAtt A.B` is
    {"Fn::GetAtt": ["A", "B"]}, `!Condition C` is {"Condition": "C"}, any other `!Fn` is
    {"Fn::Fn": ...}. libyaml's loader when PyYAML has it (ten times faster: the checks and
    settings read the template at start-up)."""
    import yaml

    base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    loader = type("CloudFormationLoader", (base,), {})
    loader.add_multi_constructor("!", _intrinsic)
    try:
        return yaml.load(text, Loader=loader)
    except yaml.YAMLError as error:
        raise TemplateError(f"not YAML CloudFormation reads: {error}") from error


def _intrinsic(loader: Any, suffix: str, node: Any) -> dict[str, Any]:
    import yaml

    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    if suffix in ("Ref", "Condition"):
        return {suffix: value}
    return {f"Fn::{suffix}": value}


def load_expanded(path: Path, parameters: Mapping[str, str] | None = None) -> Template:
    """The template as CloudFormation works on it after the language extensions."""
    return expand(load_template(path), parameters)


def parameter_values(template: Template, given: Mapping[str, str] | None = None) -> dict[str, str]:
    """Each parameter's value for a deploy: the one given, else its Default."""
    values = {
        name: str(declaration["Default"])
        for name, declaration in (template.get("Parameters") or {}).items()
        if "Default" in declaration
    }
    return {**values, **(given or {})}


def uses_language_extensions(template: Template) -> bool:
    transform = template.get("Transform") or []
    return LANGUAGE_EXTENSIONS in ([transform] if isinstance(transform, str) else transform)


def expand(template: Template, parameters: Mapping[str, str] | None = None) -> Template:
    """A copy of template with Fn::ForEach and Fn::FindInMap defaults expanded, and the
    transform removed from its Transform list. A template without it is returned as is."""
    if not isinstance(template, dict):
        raise TemplateError("a template is a mapping of sections")
    if not uses_language_extensions(template):
        return copy.deepcopy(template)
    values = parameter_values(template, parameters)
    expanded = _resolve_names(_expand_loops(copy.deepcopy(template), values))
    expanded = _resolve_map_defaults(expanded, expanded.get("Mappings") or {}, values)
    transforms = [t for t in _as_list(expanded.get("Transform")) if t != LANGUAGE_EXTENSIONS]
    if transforms:
        expanded["Transform"] = transforms[0] if len(transforms) == 1 else transforms
    else:
        expanded.pop("Transform", None)
    return expanded


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _expand_loops(node: Any, parameters: Mapping[str, str]) -> Any:
    if isinstance(node, list):
        return [_expand_loops(item, parameters) for item in node]
    if not isinstance(node, dict):
        return node
    result: dict[str, Any] = {}
    for key, value in node.items():
        if not _FOR_EACH.match(key):
            _merge(result, key, _expand_loops(value, parameters), loop=None)
            continue
        identifier, collection, fragment = _loop_parts(key, value)
        for item in _collection(key, collection, parameters):
            copied = _substitute(copy.deepcopy(fragment), identifier, item)
            for made_key, made_value in _expand_loops(copied, parameters).items():
                _merge(result, made_key, made_value, loop=key)
    return result


def _merge(result: dict[str, Any], key: str, value: Any, *, loop: str | None) -> None:
    if key in result:
        where = f" made by {loop}" if loop else ""
        raise TemplateError(f"{key!r}{where} is declared twice")
    result[key] = value


def _loop_parts(key: str, value: Any) -> tuple[str, Any, dict[str, Any]]:
    if not (isinstance(value, list) and len(value) == 3):
        raise TemplateError(f"{key} takes [Identifier, Collection, Fragment]")
    identifier, collection, fragment = value
    if not isinstance(identifier, str) or not identifier:
        raise TemplateError(f"{key}: the identifier must be a string")
    if not isinstance(fragment, dict):
        raise TemplateError(f"{key}: the fragment must be a mapping")
    return identifier, collection, fragment


def _collection(key: str, collection: Any, parameters: Mapping[str, str]) -> list[str]:
    if isinstance(collection, dict) and set(collection) == {"Ref"}:
        name = collection["Ref"]
        if name not in parameters:
            raise TemplateError(f"{key}: the collection names no parameter with a value: {name}")
        collection = [item.strip() for item in parameters[name].split(",") if item.strip()]
    if not isinstance(collection, list) or not all(isinstance(i, str) for i in collection):
        raise TemplateError(f"{key}: the collection must be a list of strings or a Ref to one")
    return collection


def _substitute(node: Any, identifier: str, item: str) -> Any:
    if isinstance(node, str):
        stripped = _NOT_ALPHANUMERIC.sub("", item)
        return node.replace(f"${{{identifier}}}", item).replace(f"&{{{identifier}}}", stripped)
    if isinstance(node, list):
        return [_substitute(child, identifier, item) for child in node]
    if isinstance(node, dict):
        if node == {"Ref": identifier}:
            return item
        return {
            _substitute(key, identifier, item): _substitute(value, identifier, item)
            for key, value in node.items()
        }
    return node


def _resolve_names(node: Any) -> Any:
    """Ref and Fn::GetAtt name a logical id: one built by Fn::Sub becomes its string."""
    if isinstance(node, list):
        return [_resolve_names(item) for item in node]
    if not isinstance(node, dict):
        return node
    if set(node) == {"Ref"} and isinstance(node["Ref"], dict):
        return {"Ref": _logical_id(node["Ref"], node)}
    attribute = node.get("Fn::GetAtt")
    if (
        len(node) == 1
        and isinstance(attribute, list)
        and attribute
        and isinstance(attribute[0], dict)
    ):
        return {"Fn::GetAtt": [_logical_id(attribute[0], node), *attribute[1:]]}
    return {key: _resolve_names(value) for key, value in node.items()}


def _logical_id(built: dict[str, Any], where: dict[str, Any]) -> str:
    name = built.get("Fn::Sub") if set(built) == {"Fn::Sub"} else None
    if not isinstance(name, str) or "${" in name:
        raise TemplateError(f"a logical id must be known before deploy: {where}")
    return name


def _resolve_map_defaults(
    node: Any, mappings: Mapping[str, Any], parameters: Mapping[str, str]
) -> Any:
    if isinstance(node, list):
        return [_resolve_map_defaults(item, mappings, parameters) for item in node]
    if not isinstance(node, dict):
        return node
    lookup = node.get("Fn::FindInMap")
    if len(node) == 1 and isinstance(lookup, list) and len(lookup) == 4:
        return _find_in_map(lookup, mappings, parameters)
    return {key: _resolve_map_defaults(value, mappings, parameters) for key, value in node.items()}


def _find_in_map(
    lookup: list[Any], mappings: Mapping[str, Any], parameters: Mapping[str, str]
) -> Any:
    *keys, default = lookup
    if not (isinstance(default, dict) and set(default) == {"DefaultValue"}):
        raise TemplateError(f"Fn::FindInMap's fourth argument must be DefaultValue: {lookup}")
    map_name, top, second = (_literal(key, parameters, lookup) for key in keys)
    value = (mappings.get(map_name) or {}).get(top, {}).get(second)
    return copy.deepcopy(default["DefaultValue"] if value is None else value)


def _literal(key: Any, parameters: Mapping[str, str], lookup: list[Any]) -> str:
    if isinstance(key, dict) and set(key) == {"Ref"} and key["Ref"] in parameters:
        return parameters[key["Ref"]]
    if isinstance(key, str):
        return key
    raise TemplateError(
        f"Fn::FindInMap with a DefaultValue needs keys known before deploy: {lookup}"
    )
