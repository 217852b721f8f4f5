"""Throughput through the local stack (`python -m stack.local`, what `make run` starts):
moto's server with template.yaml deployed, the event source mapping's poller (batch 10,
window 2 s, concurrency 5 for the default queue in the dev stage) and warm worker
processes running `functions/worker.handler`.

The system is started as the local-system tests start it (tests/local/conftest.py: a
temporary directory, free ports), warmed with a few tasks, then fed bursts enqueued in
bulk by a script in the web stage's environment (stack.local.system.process_environment).
"""

import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

import boto3

from bench import throughput
from stack.local.system import REGION, Paths, process_environment
from tests.local.conftest import RunningSystem

TABLE = "app-dev-tasks"
WARM_UP = 20
TIMEOUT = 300.0


def measure(tasks: int, runs: int) -> throughput.Throughput:
    with tempfile.TemporaryDirectory(prefix="bench-local-") as scratch:
        # Workers run only declared tasks: the benchmark's module is declared to them.
        system = RunningSystem(Path(scratch), task_modules=("bench.tasks",))
        try:
            system.wait_until_ready(timeout=180)
            env = process_environment(Paths(Path(scratch)), system.aws_port)
            env.pop("AWS_SESSION_TOKEN", None)  # the benchmark process's own (test settings)
            table = _ResultsTable(system.endpoint)
            throughput.burst(WARM_UP, env, table, TIMEOUT)
            bursts = [throughput.burst(tasks, env, table, TIMEOUT) for _ in range(runs)]
        finally:
            if system.process.poll() is None:
                system.stop()
    return throughput.Throughput.of(
        tasks,
        bursts,
        "local stack: moto server + 1 poller (batch 10, window 2 s) + up to 5 warm worker "
        "processes, all on this machine",
    )


class _ResultsTable:
    """The results table's SUCCESSFUL items finished since a moment: a scan (the table has
    no index of tasks that succeeded, by design; it holds only this benchmark's tasks)."""

    def __init__(self, endpoint: str) -> None:
        self.dynamodb = boto3.client(
            "dynamodb",
            region_name=REGION,
            endpoint_url=endpoint,
            aws_access_key_id="local",
            aws_secret_access_key="local",
        )

    def _query(self, began: datetime, **extra: Any) -> Any:
        return self.dynamodb.get_paginator("scan").paginate(
            TableName=TABLE,
            FilterExpression="#s = :s AND finished_at >= :began",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={
                ":s": {"S": "SUCCESSFUL"},
                ":began": {"S": began.isoformat()},
            },
            **extra,
        )

    def count_since(self, began: datetime) -> int:
        return sum(page["Count"] for page in self._query(began, Select="COUNT"))

    def times_since(self, began: datetime) -> throughput.Times:
        return [
            (_moment(item["enqueued_at"]), _moment(item["finished_at"]))
            for page in self._query(began)
            for item in page["Items"]
        ]


def _moment(value: dict[str, str]) -> datetime:
    return datetime.fromisoformat(value["S"])
