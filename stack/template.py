"""Reading template.yaml the way SAM CLI does, and finding things in it.

The short-form intrinsics (!Ref, !GetAtt, !Sub ...) become their long forms ({"Ref": ...}),
which is what samtranslator, moto's CloudFormation and the tests all expect. `load_template`
also runs the AWS::LanguageExtensions transform (sqs_tasks.infra.cfn), as CloudFormation
does before anything else: the task queue loop becomes one set of resources per queue.
`read_template` is the file as written, loop and all.
"""

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from sqs_tasks.infra.cfn import expand, parse_yaml

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "template.yaml"

Template = dict[str, Any]


def read_template(path: Path = TEMPLATE) -> Template:
    """The template as written."""
    return parse_yaml(path.read_text(encoding="utf-8"))


def load_template(path: Path = TEMPLATE, parameters: Mapping[str, str] | None = None) -> Template:
    """The template as CloudFormation works on it: language extensions expanded for these
    parameter values (the defaults where none is given)."""
    return expand(read_template(path), parameters)


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
