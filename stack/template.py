"""Reading template.yaml the way SAM CLI does, and finding things in it.

The short-form intrinsics (!Ref, !GetAtt, !Sub ...) become their long forms ({"Ref": ...}),
which is what samtranslator, moto's CloudFormation and the tests all expect.
"""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml
from samtranslator.yaml_helper import intrinsics_multi_constructor

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "template.yaml"

Template = dict[str, Any]


class _CfnLoader(yaml.SafeLoader):
    """SafeLoader plus CloudFormation's tags, without touching yaml.SafeLoader itself."""


_CfnLoader.add_multi_constructor("!", intrinsics_multi_constructor)


def load_template(path: Path = TEMPLATE) -> Template:
    return parse_yaml(path.read_text(encoding="utf-8"))


def parse_yaml(text: str) -> Any:
    """YAML in CloudFormation's dialect (short-form intrinsics become long-form dicts)."""
    return yaml.load(text, Loader=_CfnLoader)


def resources_of_type(template: Template, resource_type: str) -> dict[str, dict[str, Any]]:
    """Logical id -> resource, for every resource of one type, in template order."""
    return {
        logical_id: resource
        for logical_id, resource in template.get("Resources", {}).items()
        if resource.get("Type") == resource_type
    }


def walk(node: Any) -> Iterator[Any]:
    """Every dict, list and scalar below node, node included, depth first."""
    yield node
    children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else ()
    for child in children:
        yield from walk(child)
