"""A workflow's plan: its shape as typed nodes, each with a path and deterministic ids.

    chain(a.step(), group([b.step(), chain(c.step(), d.step())]), e.map(), f.step())

    r            chain
    r.0          step a
    r.1          group
    r.1.0        step b
    r.1.1        chain
    r.1.1.0      step c
    r.1.1.1      step d
    r.2          map e            (its calls: r.2.m0, r.2.m1, ... once the list is known)
    r.3          step f

Every step's task id is derived from the workflow id and its path, so a continuation
started twice (a duplicate delivery, a redelivery after a crash) names the same task,
whose item is created once: a step, and every join, starts exactly once.
"""

import json
import uuid
from dataclasses import dataclass, field
from typing import Any

_IDS = uuid.UUID("3c1b1a0e-6a07-4f0c-8a6f-2b5d5d3f9e41")

MAX_MEMBERS = 10_000  # of one group or one map: a fan-out is sent by one invocation
SHARD_SIZE = 32  # members per join record (records.py): each stays one small item


@dataclass(frozen=True, slots=True)
class StepNode:
    path: str
    task: str  # module path
    args: list[Any]
    kwargs: dict[str, Any]
    # What `using()` changed of the declared task (queue_name, priority, limits,
    # message_group): applied again when the step starts (shapes.py says what may change).
    using: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class MapNode:
    path: str
    task: str
    args: list[Any]
    kwargs: dict[str, Any]
    using: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ChainNode:
    path: str
    elements: tuple["Node", ...]


@dataclass(frozen=True, slots=True)
class GroupNode:
    path: str
    members: tuple["Node", ...]


Node = StepNode | MapNode | ChainNode | GroupNode
ROOT = "r"


def step_id(workflow_id: str, path: str) -> str:
    """The task id of the step (or map call) at `path`."""
    return uuid.uuid5(_IDS, f"{workflow_id}:{path}").hex


def map_call_path(map_path: str, index: int) -> str:
    return f"{map_path}.m{index}"


@dataclass(frozen=True, slots=True)
class Plan:
    workflow_id: str
    root: ChainNode | GroupNode

    def node(self, path: str) -> Node:
        """The node at `path` (a map call's path names its map)."""
        node: Node = self.root
        for part in path.split(".")[1:]:
            if part.startswith("m"):
                return node
            children = node.elements if isinstance(node, ChainNode) else node.members  # type: ignore[union-attr]
            node = children[int(part)]
        return node

    def parent(self, path: str) -> Node | None:
        if path == ROOT:
            return None
        return self.node(path.rsplit(".", 1)[0])

    def steps(self, node: Node | None = None) -> list[StepNode]:
        """Every static step under `node` (map calls are known only once they start)."""
        node = node or self.root
        match node:
            case StepNode():
                return [node]
            case MapNode():
                return []
            case ChainNode(elements=children) | GroupNode(members=children):
                return [step for child in children for step in self.steps(child)]

    def maps(self, node: Node | None = None) -> list[MapNode]:
        node = node or self.root
        match node:
            case MapNode():
                return [node]
            case StepNode():
                return []
            case ChainNode(elements=children) | GroupNode(members=children):
                return [found for child in children for found in self.maps(child)]

    def first_steps(self, node: Node) -> list[StepNode]:
        """The steps that start when `node` starts."""
        match node:
            case StepNode():
                return [node]
            case MapNode():
                return []
            case ChainNode(elements=elements):
                return self.first_steps(elements[0])
            case GroupNode(members=members):
                return [step for member in members for step in self.first_steps(member)]

    def last_node(self) -> Node:
        """The node whose value is the workflow's: a group's is the group itself."""
        node: Node = self.root
        while isinstance(node, ChainNode):
            node = node.elements[-1]
        return node

    # -- JSON ---------------------------------------------------------------------------

    def to_json(self) -> str:
        return json.dumps(
            {"v": 1, "id": self.workflow_id, "root": _dump(self.root)}, separators=(",", ":")
        )

    @classmethod
    def from_json(cls, text: str) -> "Plan":
        data = json.loads(text)
        if data.get("v") != 1:
            raise ValueError(f"unknown workflow plan version {data.get('v')!r}")
        root = _load(data["root"], ROOT)
        if not isinstance(root, ChainNode | GroupNode):
            raise ValueError("a workflow is a chain or a group")
        return cls(workflow_id=data["id"], root=root)


def _dump(node: Node) -> dict[str, Any]:
    match node:
        case StepNode(task=task, args=args, kwargs=kwargs, using=using):
            return {"step": task, "args": args, "kwargs": kwargs, **_using(using)}
        case MapNode(task=task, args=args, kwargs=kwargs, using=using):
            return {"map": task, "args": args, "kwargs": kwargs, **_using(using)}
        case ChainNode(elements=elements):
            return {"chain": [_dump(element) for element in elements]}
        case GroupNode(members=members):
            return {"group": [_dump(member) for member in members]}


def _using(using: dict[str, Any]) -> dict[str, Any]:
    return {"using": using} if using else {}


def _load(data: dict[str, Any], path: str) -> Node:
    using = dict(data.get("using", {}))
    if "step" in data:
        return StepNode(path, data["step"], list(data["args"]), dict(data["kwargs"]), using)
    if "map" in data:
        return MapNode(path, data["map"], list(data["args"]), dict(data["kwargs"]), using)
    if "chain" in data:
        return ChainNode(path, tuple(_load(e, f"{path}.{i}") for i, e in enumerate(data["chain"])))
    if "group" in data:
        return GroupNode(path, tuple(_load(m, f"{path}.{i}") for i, m in enumerate(data["group"])))
    raise ValueError(f"not a workflow node: {sorted(data)}")
