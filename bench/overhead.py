"""Worker overhead: no-op tasks per second through `functions.worker.handler` against
in-process moto, beside a bare loop that makes exactly the same AWS calls and nothing else.

The bare loop is the physical limit of the design (claim and finish are two conditional
writes per task, whatever the framework). Its calls are not written by hand: the handler's
own calls for one record are recorded with the botocore hook, then replayed verbatim for
each message with only the task id changed. Only the processing is timed: enqueueing,
receiving, building Lambda's event and deleting are the same for both and left out.
Runs alternate (handler, bare, handler, ...) so drift on the machine hits both alike.
"""

import cProfile
import pstats
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore import xform_name

from bench import inprocess
from bench.counting import counting
from bench.report import table
from bench.stats import Summary, ratio
from bench.tasks import noop
from sqs_tasks import aws
from sqs_tasks.lambda_events import LambdaContext, sqs_event
from sqs_tasks.testing import delete_done

Batch = list[dict[str, Any]]
Calls = list[tuple[str, str, dict[str, Any]]]
GOAL = 0.8  # of the bare loop's rate (issue 8)
# Our code and the runtime dependencies it brings: where framework time can go.
FRAMEWORK = ("/sqs_tasks/", "/aws_lambda_powertools/", "/django/", "/logging/")


@dataclass
class Overhead:
    handler: Summary  # tasks per second
    bare: Summary
    ratio: Summary  # handler / bare, run by run
    calls_per_task: list[str]
    in_aws_calls: dict[str, float]  # handler|bare -> share of time inside botocore calls
    hot_functions: list[tuple[str, float]]  # framework functions by own time, share of all


def measure(tasks: int, runs: int) -> Overhead:
    with inprocess.mocked_aws() as urls:
        queue_url = urls["default"]
        arn = inprocess.arn_of(queue_url)
        template = _record_one(queue_url, arn)
        # One untimed run of each first: the handler's first batch pays one-time imports
        # and client set-up that a warm Lambda environment has already paid.
        _rate(queue_url, arn, tasks, _through_handler)
        _rate(queue_url, arn, tasks, _bare_loop(template))
        handler_rates, bare_rates = [], []
        for _ in range(runs):
            handler_rates.append(_rate(queue_url, arn, tasks, _through_handler))
            bare_rates.append(_rate(queue_url, arn, tasks, _bare_loop(template)))
        handler_profile = _profile(queue_url, arn, tasks, _through_handler)
        bare_profile = _profile(queue_url, arn, tasks, _bare_loop(template))
    handler, bare = Summary.of(handler_rates), Summary.of(bare_rates)
    return Overhead(
        handler=handler,
        bare=bare,
        ratio=ratio(handler, bare),
        calls_per_task=[f"{service}:{operation}" for service, operation, _ in template],
        in_aws_calls={
            "handler": _in_aws_calls(handler_profile),
            "bare": _in_aws_calls(bare_profile),
        },
        hot_functions=_hot_functions(handler_profile),
    )


def _record_one(queue_url: str, arn: str) -> Calls:
    """The handler's calls for one record, once the process is warm (one-off lookups done)."""
    for _ in range(2):
        inprocess.enqueue(1)
        batch = inprocess.receive(queue_url)
        aws.reset_clients()
        with counting(keep_params=True) as counter:
            answer = inprocess.invoke(batch, arn)
        delete_done(queue_url, batch, answer)
    task_id = _task_id(batch[0])
    return [(s, op, _replace(params, task_id, "{task_id}")) for s, op, params in counter.log or []]


def _task_id(message: dict[str, Any]) -> str:
    return message["MessageAttributes"]["task_id"]["StringValue"]


def _replace(value: Any, old: str, new: str) -> Any:
    if isinstance(value, str):
        return value.replace(old, new)
    if isinstance(value, dict):
        return {k: _replace(v, old, new) for k, v in value.items()}
    if isinstance(value, list):
        return [_replace(v, old, new) for v in value]
    return value


def _through_handler(arn: str) -> Callable[[Batch], Any]:
    from functions.worker import handler

    def process(batch: Batch) -> Any:
        event = sqs_event(batch, arn, inprocess.REGION)  # Lambda builds it, not us: untimed
        context = LambdaContext()
        return lambda: handler(event, context)

    return process


def _bare_loop(template: Calls) -> Callable[[str], Callable[[Batch], Any]]:
    def bind(arn: str) -> Callable[[Batch], Any]:
        clients = {service: aws.client(service) for service, _, _ in template}
        methods = [
            (getattr(clients[service], xform_name(operation)), params)
            for service, operation, params in template
        ]

        def process(batch: Batch) -> Any:
            ids = [_task_id(message) for message in batch]

            def run() -> dict[str, list[Any]]:
                for task_id in ids:
                    for method, params in methods:
                        method(**_replace(params, "{task_id}", task_id))
                    noop.func()
                return {"batchItemFailures": []}

            return run

        return process

    return bind


def _prepared(queue_url: str, arn: str, tasks: int, process: Callable[[str], Any]) -> list:
    """Enqueue and receive `tasks` tasks; return each batch's ready-to-run call."""
    inprocess.enqueue(tasks)
    bind = process(arn)
    prepared = []
    while batch := inprocess.receive(queue_url):
        prepared.append((batch, bind(batch)))
    return prepared


def _rate(queue_url: str, arn: str, tasks: int, process: Callable[[str], Any]) -> float:
    prepared = _prepared(queue_url, arn, tasks, process)
    started = time.perf_counter()
    answers = [run() for _, run in prepared]
    elapsed = time.perf_counter() - started
    for (batch, _), answer in zip(prepared, answers, strict=True):
        delete_done(queue_url, batch, answer)
    return sum(len(batch) for batch, _ in prepared) / elapsed


def _profile(queue_url: str, arn: str, tasks: int, process: Callable[[str], Any]) -> pstats.Stats:
    prepared = _prepared(queue_url, arn, tasks, process)
    profiler = cProfile.Profile()
    answers = [profiler.runcall(run) for _, run in prepared]
    for (batch, _), answer in zip(prepared, answers, strict=True):
        delete_done(queue_url, batch, answer)
    return pstats.Stats(profiler)


def _total(stats: pstats.Stats) -> float:
    return sum(t for (_, _, t, _, _) in stats.stats.values()) or 1.0  # type: ignore[attr-defined]


def _in_aws_calls(stats: pstats.Stats) -> float:
    """Share of the time spent inside botocore API calls (client work plus moto's answer)."""
    inside = sum(
        cumtime
        for (filename, _, name), (_, _, _, cumtime, _) in stats.stats.items()  # type: ignore[attr-defined]
        if name == "_make_api_call" and filename.endswith("botocore/client.py")
    )
    return inside / _total(stats)


def _hot_functions(stats: pstats.Stats, count: int = 8) -> list[tuple[str, float]]:
    """The framework's functions with the most own time (tottime), as shares of all time."""
    total = _total(stats)
    ours = [
        (f"{filename.split('site-packages/')[-1].split('/main/')[-1]}:{line} {name}", tottime)
        for (filename, line, name), (_, _, tottime, _, _) in stats.stats.items()  # type: ignore[attr-defined]
        if any(marker in filename for marker in FRAMEWORK)
    ]
    ours.sort(key=lambda item: -item[1])
    return [(name, tottime / total) for name, tottime in ours[:count]]


def render(result: Overhead, tasks: int) -> str:
    per_task_ms = 1000 / result.handler.median - 1000 / result.bare.median
    verdict = "meets" if result.ratio.median >= GOAL else "misses"
    hot = table(
        ("function (own time)", "share of handler time"),
        [(name, f"{share:.1%}") for name, share in result.hot_functions],
    )
    return "\n\n".join(
        [
            "## 2. Worker overhead",
            f"No-op tasks per second through `functions.worker.handler` (batches of 10, "
            f"{tasks} tasks a run) against in-process moto, beside a bare loop making exactly "
            f"the same AWS calls per task ({', '.join(result.calls_per_task)}: recorded from "
            "the handler with the botocore hook and replayed verbatim with only the task id "
            "changed) and calling the task function, nothing else. Only processing is timed; "
            "runs alternate.",
            table(
                ("", "tasks/s"),
                [
                    ("handler", result.handler.format("", 1)),
                    ("bare loop", result.bare.format("", 1)),
                    ("handler / bare (run by run)", result.ratio.format("", 2)),
                ],
            ),
            f"Goal: at least {GOAL} of the bare loop. The median run **{verdict}** it "
            f"({result.ratio.median:.2f}); the framework costs about {per_task_ms:.1f} ms per "
            "task here. Under cProfile, "
            f"{result.in_aws_calls['handler']:.0%} of the handler's time is inside botocore "
            f"calls (client work plus moto's answer), against "
            f"{result.in_aws_calls['bare']:.0%} for the bare loop: moto's in-process DynamoDB "
            "costs milliseconds a call, so the ratio says how little the framework adds to the "
            "calls it must make. The framework's own hottest functions:",
            hot,
        ]
    )
