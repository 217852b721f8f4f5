"""Workflows: chains, fan-out and fan-in of tasks, on the same queues, workers and table
(contract 8).

    from sqs_tasks.workflows import chain, group, get_workflow

    w = chain(split.step(upload_id), count_rows.map(), add_up.step()).enqueue()
    get_workflow(w.id).status

    shapes.py    chain, group, task.step(), task.map(): what you build, checked at enqueue
    plan.py      the compiled shape: nodes, paths, deterministic step ids
    engine.py    what starts when a step succeeds; joins, started by their last member
    records.py   the workflow's own items beside its steps' items
    status.py    get_workflow: status, progress, the failed step, the value

The names below load on first use: the backend and the outbox import records.py, which
lives in this package, and must not pull in the builders (which import the backend).
"""

from importlib import import_module
from typing import Any

_EXPORTS = {
    "Chain": "shapes",
    "Group": "shapes",
    "InvalidWorkflow": "shapes",
    "Map": "shapes",
    "Step": "shapes",
    "chain": "shapes",
    "group": "shapes",
    "StepState": "status",
    "WorkflowResult": "status",
    "get_workflow": "status",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'sqs_tasks.workflows' has no attribute {name!r}")
    return getattr(import_module(f"sqs_tasks.workflows.{_EXPORTS[name]}"), name)
