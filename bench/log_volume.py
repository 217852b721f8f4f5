"""Bytes of CloudWatch Logs a no-op task writes: what log ingestion bills per task.

Measured through the real code with the project's logging configuration (the JSON
formatter of Powertools) and metrics on, as in Lambda: the web side's lines for one
`enqueue()` (its EMF metric lines), the worker's for each attempt (the attempt's own
line, the batch's EMF lines; Django's own task started/finished lines only if settings
let them through), each invocation's
platform lines (Lambda writes START, END and REPORT; built here in their text format),
and a scheduler tick plus the job's run for a periodic task. CloudWatch Logs counts 26
bytes of overhead per log event in a request's size (PutLogEvents); they are counted as
ingested too, which may overstate the bill slightly.
"""

import gzip
import io
import json
import logging
import os
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from typing import Any

from bench import inprocess
from bench.report import table
from bench.tasks import noop
from sqs_tasks.testing import delete_done

EVENT_OVERHEAD = 26  # bytes per log event (PutLogEvents)
ZAPPA_COMMAND_LINES = ("Result of zappa.asynchronous.route_lambda_task:", "None")


@dataclass
class Volume:
    events: int = 0
    bytes: int = 0  # of the lines, without the per-event overhead

    def add_lines(self, text: str) -> None:
        for line in text.splitlines():
            if line.strip():
                self.events += 1
                self.bytes += len(line.encode()) + 1

    @property
    def billed(self) -> int:
        return self.bytes + self.events * EVENT_OVERHEAD

    def per(self, count: int) -> float:
        return self.billed / count


@dataclass
class LogVolume:
    tasks: int
    web: Volume  # the enqueues (one per task)
    worker: Volume  # the attempts and their invocations
    invocations: int
    zappa_per_task: float
    metric_names: set[tuple[str, str]]  # EMF metrics the tasks made, as (metric, queue)
    compression: float  # gzip's compressed / raw for these lines
    # Bytes a task (with the per-event overhead) of lines that repeat what another says:
    # Django's own task started/finished lines beside the attempt's line (settings now
    # leave them out: 0 unless they come back). The web's relay metric line after each
    # enqueue was one too: the committing process now emits it only when its relay fails.
    repeated: dict[str, float]

    @property
    def per_task(self) -> float:
        return (self.web.billed + self.worker.billed) / self.tasks


def platform_lines(memory_mb: int) -> str:
    """What Lambda writes around every invocation (text log format)."""
    request = uuid.uuid4()
    return (
        f"START RequestId: {request} Version: $LATEST\n"
        f"END RequestId: {request}\n"
        f"REPORT RequestId: {request}\tDuration: 182.36 ms\tBilled Duration: 183 ms\t"
        f"Memory Size: {memory_mb} MB\tMax Memory Used: 93 MB\t\n"
    )


def emf_metrics(text: str) -> set[tuple[str, str]]:
    """(metric, queue) of every EMF line in `text`: the custom metrics CloudWatch makes."""
    found = set()
    for line in text.splitlines():
        if '"_aws"' not in line:
            continue
        document = json.loads(line)
        for directive in document["_aws"]["CloudWatchMetrics"]:
            for metric in directive["Metrics"]:
                found.add((metric["Name"], str(document.get("queue", ""))))
    return found


def gzip_ratio(text: str) -> float:
    """Compressed / raw size of log text (CloudWatch bills stored logs compressed)."""
    raw = text.encode()
    return len(gzip.compress(raw)) / len(raw) if raw else 1.0


@contextmanager
def captured(function_name: str) -> Iterator[io.StringIO]:
    """Everything the process logs (the root logger's handlers) and prints (EMF lines go
    to stdout), with metrics on as inside a Lambda function named `function_name`."""
    buffer = io.StringIO()
    handlers = [h for h in logging.getLogger().handlers if isinstance(h, logging.StreamHandler)]
    streams = [_swap_stream(h, buffer) for h in handlers]
    saved_stdout, sys.stdout = sys.stdout, buffer
    saved_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME")
    os.environ["AWS_LAMBDA_FUNCTION_NAME"] = function_name
    try:
        yield buffer
    finally:
        sys.stdout = saved_stdout
        for handler, stream in zip(handlers, streams, strict=True):
            _swap_stream(handler, stream)
        if saved_name is None:
            os.environ.pop("AWS_LAMBDA_FUNCTION_NAME", None)
        else:
            os.environ["AWS_LAMBDA_FUNCTION_NAME"] = saved_name


def _swap_stream(handler: logging.StreamHandler, stream: Any) -> Any:
    """Point `handler` at `stream`; returns the one it had. Not setStream, which flushes the
    old stream first: under pytest it may be a capture a finished test already closed."""
    with handler.lock or nullcontext():
        old, handler.stream = handler.stream, stream
    return old


def measure(tasks: int, worker_memory_mb: int = 512, web_memory_mb: int = 1024) -> LogVolume:
    import functions.worker  # noqa: F401 - its django.setup() configures logging anew: first

    web, worker, invocations = Volume(), Volume(), 0
    text = ""
    with inprocess.mocked_aws() as urls:
        queue_url = urls["default"]
        arn = inprocess.arn_of(queue_url)
        with captured("app-dev") as lines:
            for _ in range(tasks):
                noop.enqueue()
        web.add_lines(lines.getvalue())
        text += lines.getvalue()
        while messages := inprocess.receive(queue_url):
            with captured("app-dev-worker-default") as lines:
                answer = inprocess.invoke(messages, arn)
            worker.add_lines(lines.getvalue() + platform_lines(worker_memory_mb))
            text += lines.getvalue()
            invocations += 1
            delete_done(queue_url, messages, answer)
    zappa = Volume()
    zappa.add_lines(platform_lines(web_memory_mb) + "\n".join(ZAPPA_COMMAND_LINES))
    repeated = {
        "Django's task started/finished lines (logger django.tasks)": _matching(
            text, '"location":"log_task_'
        )
        / tasks,
    }
    return LogVolume(
        tasks,
        web,
        worker,
        invocations,
        zappa.billed,
        emf_metrics(text),
        gzip_ratio(text),
        repeated,
    )


def _matching(text: str, marker: str) -> float:
    volume = Volume()
    volume.add_lines("\n".join(line for line in text.splitlines() if marker in line))
    return volume.billed


def periodic_run(run: Any, function_name: str, memory_mb: int) -> int:
    """Billed log bytes of one run of `run()` inside a function, with its platform lines."""
    volume = Volume()
    with captured(function_name) as lines:
        run()
    volume.add_lines(lines.getvalue() + platform_lines(memory_mb))
    return volume.billed


def render(found: LogVolume) -> str:
    return table(
        ("where", "log events per task", "bytes per task (with 26 B/event)"),
        [
            (
                "web: the enqueue",
                f"{found.web.events / found.tasks:.2f}",
                f"{found.web.per(found.tasks):.0f}",
            ),
            (
                f"worker: the attempt, in batches of {found.tasks / found.invocations:.0f}",
                f"{found.worker.events / found.tasks:.2f}",
                f"{found.worker.per(found.tasks):.0f}",
            ),
            ("**ours, all**", "", f"**{found.per_task:.0f}**"),
            ("Zappa: one invocation per task", "5", f"{found.zappa_per_task:.0f}"),
            ("Celery: on the instance's disk, not CloudWatch", "0", "0"),
        ],
    )
