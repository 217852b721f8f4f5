"""What a retried or failed task weighs: its item's size and the writes it costs.

A no-op task that succeeds is the common case (bench.requests_ours); here, through the
same worker against the same moto, a task that fails its first attempt and succeeds on
its retry, and one that fails all three attempts (FAILED, with its dead letter and its
entry in the sparse `failed` index). Each attempt's error is kept on the item with its
traceback (what an operator reads in `tasks_show`), so failures make items larger.
"""

from collections import Counter
from dataclasses import dataclass

from bench import inprocess
from bench.counting import counting
from bench.failing_tasks import always_fails, fails_once
from bench.items import WriteCost
from bench.pricing import Usage
from bench.report import table
from bench.requests_ours import process, tasks_table_watch
from sqs_tasks import aws, queues
from sqs_tasks.item import FAILED_SHARDS

TASKS = 5  # of each kind: the counts per task are exact, the sizes vary by a few bytes


@dataclass(frozen=True)
class Weight:
    label: str
    tasks: int
    status: str
    cost: WriteCost
    requests: Counter[tuple[str, str]]

    def per_task(self, value: float) -> float:
        return value / self.tasks


def measure(tasks: int = TASKS) -> list[Weight]:
    return [
        _run("retried once, then succeeded", fails_once, tasks, "SUCCESSFUL"),
        _run("failed for good (3 attempts)", always_fails, tasks, "FAILED"),
    ]


def _run(label: str, task: object, tasks: int, expected: str) -> Weight:
    with inprocess.mocked_aws() as urls:
        queue_url = urls["default"]
        arn = inprocess.arn_of(queue_url)
        aws.reset_clients()
        queues.clear_caches()
        watch = tasks_table_watch()
        with counting(watchers=[watch]) as counter:
            ids = [result.id for result in task.enqueue_many([((), {})] * tasks)]  # type: ignore[attr-defined]
            process(counter, queue_url, arn, Usage(label, tasks))
        statuses = {task.get_result(task_id).status for task_id in ids}  # type: ignore[attr-defined]
    if statuses != {expected}:
        raise RuntimeError(f"{label}: expected {expected}, got {statuses}")
    return Weight(label, tasks, expected, watch.cost, counter.total)


def render(weights: list[Weight], common_item: int) -> str:
    rows = []
    for weight in weights:
        cost = weight.cost
        index_writes = sum(cost.index_writes.values())
        rows.append(
            (
                weight.label,
                f"{weight.per_task(cost.writes):.0f}",
                f"{weight.per_task(cost.table_units):.1f}",
                f"{weight.per_task(index_writes):.0f}",
                f"{weight.per_task(sum(cost.index_units.values())):.0f}"
                + (f" ({cost.largest_index_entry} B entry)" if index_writes else ""),
                f"{cost.largest:,} B",
            )
        )
    return "\n\n".join(
        [
            "### What a retried or failed item weighs",
            __doc__.split("\n\n", 1)[1].replace("\n", " ").strip(),
            table(
                (
                    "task",
                    "table writes/task",
                    "table WRU/task",
                    "index writes/task",
                    "index WRU/task",
                    "largest item",
                ),
                rows,
            ),
            f"Beside the common case's largest item of {common_item:,} B. Each error adds "
            "its class, message and traceback (the traceback is capped at 8 KB, "
            "`sqs_tasks.errors.TRACEBACK_LIMIT`), so a task whose errors carry deep "
            "tracebacks writes more units per write than these no-op failures. A failure "
            f"writes its index entry once, under one of {FAILED_SHARDS} shards of its queue "
            "(`failed_key`); a retry writes no index entry.",
        ]
    )
