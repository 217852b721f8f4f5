"""Connections on PostgreSQL, as Lambda uses them: one per invocation at most, closed
around each task, so a burst of worker invocations stays within MaximumConcurrency
connections per queue (the pool arithmetic in the README)."""

import threading
import time
from concurrent.futures import ThreadPoolExecutor

from django.conf import settings
from django.tasks import TaskResultStatus, default_task_backend

from functions.worker import handler
from sqs_tasks.lambda_events import LambdaContext
from sqs_tasks.periodic.template import load_template
from sqs_tasks.testing import drain_queue, receive_batch
from tests.database import tasks
from tests.database.conftest import server_connection
from tests.helpers import event_for

CONNECTIONS_PER_INVOCATION = 1  # a worker holds one Django connection at a time


def client_backends(server) -> set[int]:
    """Server processes serving clients of the test database, the watcher's own left out."""
    rows = server.execute(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
        "AND backend_type = 'client backend' AND pid <> pg_backend_pid()"
    ).fetchall()
    return {pid for (pid,) in rows}


class Watcher(threading.Thread):
    """Samples the server's client connections every few milliseconds until stopped."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.peak = 0
        self._done = threading.Event()

    def run(self) -> None:
        with server_connection() as server:
            while not self._done.is_set():
                self.peak = max(self.peak, len(client_backends(server)))
                time.sleep(0.005)

    def __enter__(self) -> "Watcher":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self.join()


def maximum_concurrency(queue: str = "default", stage: str = "dev") -> int:
    """The queue's ScalingConfig.MaximumConcurrency in template.yaml, for the stage."""
    worker = load_template(settings.BASE_DIR / "template.yaml")["Resources"][
        f"WorkerFunction{queue}"
    ]
    scaling = worker["Properties"]["Events"]["Queue"]["Properties"]["ScalingConfig"]
    condition, prod, dev = scaling["MaximumConcurrency"]["Fn::If"]
    assert condition == "IsProd"
    return prod if stage == "prod" else dev


def test_each_task_gets_a_fresh_connection_closed_when_it_ends(aws, postgres):
    first, second = tasks.backend_pid.enqueue(), tasks.backend_pid.enqueue()
    drain_queue("default")
    pids = [default_task_backend.get_result(r.id).return_value for r in (first, second)]
    assert pids[0] != pids[1], "a connection was kept from one task to the next"
    with server_connection() as server:
        assert not client_backends(server) & set(pids), "a task's connection is still open"


def test_a_burst_of_invocations_stays_within_the_connection_budget(aws, postgres):
    concurrency = maximum_concurrency("default")
    budget = concurrency * CONNECTIONS_PER_INVOCATION
    # Three times what may run at once, two tasks per batch, each holding its connection
    # a moment so that invocations overlap.
    results = [tasks.backend_pid.enqueue(0.15) for _ in range(concurrency * 6)]
    url = default_task_backend.queue_url("default")
    events = []
    while messages := receive_batch(url, batch_size=2):
        events.append(event_for(url, messages))
    assert len(events) == concurrency * 3
    with server_connection() as server:
        baseline = client_backends(server)

    def invoke(event: dict) -> dict:
        return handler(event, LambdaContext())

    # Lambda runs at most MaximumConcurrency invocations of a queue's mapping at once; each
    # thread here stands for one execution environment, with its own Django connection.
    with Watcher() as watcher, ThreadPoolExecutor(max_workers=concurrency) as lambda_service:
        answers = list(lambda_service.map(invoke, events))

    assert all(answer == {"batchItemFailures": []} for answer in answers)
    statuses = {default_task_backend.get_result(r.id).status for r in results}
    assert statuses == {TaskResultStatus.SUCCESSFUL}
    extra = watcher.peak - len(baseline)
    assert extra <= budget, f"{extra} connections for {concurrency} concurrent invocations"
    assert extra >= concurrency - 1, "the invocations did not overlap: the test proves nothing"
    with server_connection() as server:
        assert client_backends(server) <= baseline, "connections left open after the burst"


def test_the_budget_is_known_for_every_queue():
    for queue in settings.TASKS["default"]["QUEUES"]:
        for stage in ("dev", "prod"):
            assert 2 <= maximum_concurrency(queue, stage) <= 1000
