"""AWS requests per task, Celery: SQS broker and DynamoDB result backend on a moto server.

A real Celery worker (`celery worker --pool solo`, prefetch 10) runs in its own process
against an embedded moto server that counts every request it receives (bench.counting_server:
the worker's polling goes through kombu's pycurl client, which botocore hooks cannot see).
The queue and the results table are made beforehand, uncounted, as for the others.
Celery runs on servers, not Lambda: its compute is a fleet cost, not a per-task one.
"""

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import boto3

from bench.celery_app import QUEUE, REGION, RESULTS_TABLE, make_app
from bench.counting import RequestCounter
from bench.counting_server import CountingMotoServer
from bench.pricing import Usage, item_bytes

ROOT = Path(__file__).resolve().parent.parent
WORKER_TIMEOUT = 180.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class WorkerProcess:
    """What the worker process itself used while it ran the tasks (from /proc)."""

    cpu_seconds_per_task: float  # user + system, from its first result to its last
    peak_rss_mb: float  # VmHWM


LAST_WORKER: list[WorkerProcess] = []  # the last measure()'s worker, for the monthly bill


def measure(tasks: int) -> tuple[Usage, RequestCounter]:
    usage = Usage("Celery (SQS broker, DynamoDB results)", tasks, lambda_memory_mb=0)
    counter = RequestCounter()
    server = CountingMotoServer(counter, free_port())
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    try:
        counter.active = False  # the setup is not Celery's doing
        _create_resources(endpoint)
        counter.active = True
        app = make_app(endpoint)
        noop = app.tasks["bench.noop"]
        with counter.during("enqueue (apply_async)"):
            results = [noop.delay() for _ in range(tasks)]
        with counter.during("worker (celery worker, solo pool)"):
            _run_worker(endpoint, counter, tasks)
        with counter.during("read results"):
            values = {r.get(timeout=30) for r in results}
        counter.active = False
        if values != {None}:
            raise RuntimeError(f"unexpected Celery results: {values}")
        items = _client("dynamodb", endpoint).scan(TableName=RESULTS_TABLE)["Items"]
        usage.item_bytes = max(item_bytes(item) for item in items)
    finally:
        server.stop()
    usage.sqs_requests = counter.sqs_chunks
    usage.dynamodb_writes = counter.dynamodb_writes
    usage.dynamodb_reads = counter.dynamodb_reads
    return usage, counter


def _client(service: str, endpoint: str) -> object:
    return boto3.client(
        service,
        region_name=REGION,
        endpoint_url=endpoint,
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )


def _create_resources(endpoint: str) -> None:
    """The queue and the results table, as Celery itself would create them."""
    _client("sqs", endpoint).create_queue(QueueName=QUEUE)
    _client("dynamodb", endpoint).create_table(
        TableName=RESULTS_TABLE,
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )


def _run_worker(endpoint: str, counter: RequestCounter, tasks: int) -> None:
    """Start a worker, wait until it stored every result, then stop it (warm shutdown)."""
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "bench.celery_app",
            "worker",
            "--pool=solo",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "--loglevel=WARNING",
            "-Q",
            QUEUE,
        ],
        cwd=ROOT,
        env={**os.environ, "BENCH_AWS_ENDPOINT": endpoint},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + WORKER_TIMEOUT
    first: tuple[int, float] | None = None
    try:
        while (stored := counter.total[("dynamodb", "PutItem")]) < tasks:
            if worker.poll() is not None:
                raise RuntimeError(f"the Celery worker exited:\n{worker.stderr.read()}")
            if time.monotonic() > deadline:
                raise TimeoutError("the Celery worker did not finish in time")
            if first is None and stored:
                first = (stored, _cpu_seconds(worker.pid))
            time.sleep(0.05)
        if first is not None and tasks > first[0]:
            LAST_WORKER[:] = [
                WorkerProcess(
                    (_cpu_seconds(worker.pid) - first[1]) / (tasks - first[0]),
                    _peak_rss_mb(worker.pid),
                )
            ]
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()


def _cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process so far (Linux: /proc/<pid>/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0
