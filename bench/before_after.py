"""Requests per task before and after the item became the single truth and enqueue went
through the outbox (issues 12 and 13), phase by phase, each difference explained.

Before, bulk: the figures BENCHMARKS.md recorded from commit 71d1a84 (the harness of
issue 8, 1,000 no-op tasks through `enqueue_many`), kept here as that report printed
them, since the code that made them is gone. Before, one `enqueue()`: today's parts run
the old way (bench.latency_views.enqueue_before, from commit 032d13c). After: this run.
"""

from dataclasses import dataclass

from bench.cost import OURS_BULK, OURS_SINGLE, SystemCost
from bench.counting import StatementCounter
from bench.enqueue_latency import EngineLatency
from bench.report import table

BEFORE_COMMIT = "71d1a84"
ENQUEUE = "enqueue"
POLLER = "event source mapping (Lambda's poller)"
WORKER = "worker (functions.worker.handler)"
READ = "read results"
# BENCHMARKS.md at 71d1a84, "Requests per task", system "ours": calls per 1,000 tasks.
BEFORE_BULK = {
    (ENQUEUE, "dynamodb:BatchWriteItem"): 40,
    (ENQUEUE, "sqs:GetQueueUrl"): 1,
    (ENQUEUE, "sqs:SendMessageBatch"): 100,
    (POLLER, "sqs:DeleteMessageBatch"): 100,
    (POLLER, "sqs:ReceiveMessage"): 101,
    (WORKER, "dynamodb:UpdateItem"): 2000,
    (READ, "dynamodb:GetItem"): 1000,
}
BEFORE_BULK_TASKS = 1000
# The same report's dollars table: write units per task (3 to the table, 5 to the
# by-status index), and the total per million.
BEFORE_TABLE_WRU, BEFORE_INDEX_WRU, BEFORE_DOLLARS = 3.0, 5.0, 5.46

# Why a request's count changed, or why it did not.
WHY = {
    (ENQUEUE, "dynamodb:BatchWriteItem"): "replaced by BatchExecuteStatement (the row above)",
    (ENQUEUE, "dynamodb:BatchExecuteStatement"): (
        "25 PartiQL INSERTs a request, as BatchWriteItem's 25 puts, but each creates its "
        "item only if absent (a relay that sends a task twice can never reset one that ran; "
        "BatchWriteItem cannot be conditional); one write unit each, as before"
    ),
    (ENQUEUE, "sqs:GetQueueUrl"): "once per process, as before",
    (ENQUEUE, "sqs:SendMessageBatch"): "unchanged: ten messages a request",
    (POLLER, "sqs:DeleteMessageBatch"): "unchanged: one per batch of ten",
    (
        POLLER,
        "sqs:ReceiveMessage",
    ): "unchanged: one per batch, and the empty poll that ends it",
    (WORKER, "dynamodb:UpdateItem"): (
        "unchanged: the claim and the finish, one conditional UpdateItem each (issue 12: "
        "the worker's cost per task does not grow)"
    ),
    (READ, "dynamodb:GetItem"): "unchanged: `get_result` reads strongly consistent",
}


@dataclass(frozen=True)
class Row:
    phase: str
    request: str
    before: float
    after: float
    why: str


def bulk_rows(ours: SystemCost, tasks: int) -> list[Row]:
    after = {
        (phase, f"{service}:{operation}"): calls
        for phase, counts in ours.counters[0].by_phase.items()
        for (service, operation), calls in counts.items()
    }
    return _rows(
        {key: calls / BEFORE_BULK_TASKS for key, calls in BEFORE_BULK.items()},
        {key: calls / tasks for key, calls in after.items()},
    )


WHY_SINGLE = {
    (ENQUEUE, "dynamodb:PutItem"): "unchanged: the item, created only if absent, as before",
    (ENQUEUE, "sqs:SendMessage"): "replaced by the relay's send (next row)",
    (ENQUEUE, "sqs:SendMessageBatch"): (
        "SendMessage's place: the relay sends in batches, here of one; one request, billed the same"
    ),
}


def single_enqueue_rows(latency: list[EngineLatency]) -> list[Row]:
    """One `enqueue()`'s AWS calls, before and after, from the latency benchmark's count."""
    measured = next((engine for engine in latency if not engine.error), None)
    if measured is None:
        return []
    paths = measured.figures["connection held"]
    return _rows(
        {(ENQUEUE, call): n for call, n in paths["before"].aws_calls.items()},
        {(ENQUEUE, call): n for call, n in paths["after"].aws_calls.items()},
        WHY_SINGLE,
    )


def _rows(
    before: dict[tuple[str, str], float],
    after: dict[tuple[str, str], float],
    why: dict[tuple[str, str], str] = WHY,
) -> list[Row]:
    rows = []
    for key in sorted(before.keys() | after.keys(), key=_phase_order):
        was, now = before.get(key, 0.0), after.get(key, 0.0)
        reason = why.get(key) or ("unexplained: look into it" if abs(was - now) > 1e-9 else "")
        rows.append(Row(key[0], key[1], was, now, reason))
    return rows


def _phase_order(key: tuple[str, str]) -> tuple[int, str]:
    order = [ENQUEUE, POLLER, WORKER, READ]
    return (order.index(key[0]) if key[0] in order else len(order), key[1])


def render(results: dict[str, SystemCost], tasks: int, latency: list[EngineLatency]) -> str:
    bulk = results[OURS_BULK]
    rows = bulk_rows(bulk, tasks)
    before_total = sum(row.before for row in rows)
    after_total = sum(row.after for row in rows)
    usage = bulk.usages[0]
    index_wru = usage.index_write_units / usage.tasks
    table_wru = usage.wru / usage.tasks - index_wru
    single = single_enqueue_rows(latency)
    statements = bulk.counters[0].database.get(ENQUEUE)
    single_statements = results[OURS_SINGLE].counters[0].database.get(ENQUEUE)
    parts = [
        "## 6. Requests per task, before and after (issues 12 and 13)",
        " ".join(__doc__.split("\n\n", 1)[1].split()),
        "### Bulk (`enqueue_many`), per task",
        _table(rows, before_total, after_total),
        table(
            ("per task", f"before ({BEFORE_COMMIT})", "after", "why"),
            [
                (
                    "DynamoDB write units, table",
                    f"{BEFORE_TABLE_WRU:.2f}",
                    f"{table_wru:.2f}",
                    "put, claim, finish: one unit each (every item stays under 1 KB)",
                ),
                (
                    "DynamoDB write units, indexes",
                    f"{BEFORE_INDEX_WRU:.2f}",
                    f"{index_wru:.2f}",
                    "the `by-status` index (every transition moved its key) is gone; the "
                    "sparse `failed` index is written only by a task that fails for good",
                ),
                (
                    "database statements (commits)",
                    "0 (0)",
                    _statements(statements, tasks),
                    "the outbox: one INSERT for the batch (its own transaction), then one "
                    "DELETE of the rows that went, in autocommit",
                ),
                (
                    "dollars per million",
                    f"${BEFORE_DOLLARS:.2f}",
                    f"${bulk.total.median:.2f}",
                    "section 1",
                ),
            ],
        ),
        f"Requests per task: {before_total:.2f} before, {after_total:.2f} after. "
        + _verdict(before_total, after_total),
    ]
    if single:
        before_one = sum(row.before for row in single)
        after_one = sum(row.after for row in single)
        parts += [
            "### One task per `enqueue()` (a web request), its enqueue",
            _table(single, before_one, after_one),
            f"AWS requests per enqueue: {before_one:.0f} before, {after_one:.0f} after: "
            + ("**unchanged**" if before_one == after_one else "**changed**")
            + ". Database work per enqueue: none before (the old on-commit hook only asked "
            "the connection whether it was in autocommit), "
            + _statements_each(single_statements, tasks)
            + " after (section 7 times them). The worker, poller and read phases are the "
            "bulk path's, above.",
        ]
    return "\n\n".join(parts)


def _statements(counter: StatementCounter | None, tasks: int) -> str:
    if counter is None:
        return "not counted"
    return f"{counter.statements / tasks:.3f} ({counter.commits / tasks:.3f})"


def _statements_each(counter: StatementCounter | None, tasks: int) -> str:
    if counter is None:
        return "not counted"
    return f"{counter.statements / tasks:g} statements and {counter.commits / tasks:g} commits"


def _table(rows: list[Row], before_total: float, after_total: float) -> str:
    body = [
        (
            row.phase,
            row.request,
            f"{row.before:.3f}",
            f"{row.after:.3f}",
            f"{row.after - row.before:+.3f}" if row.after != row.before else "=",
            row.why,
        )
        for row in rows
    ]
    body.append(("**all**", "", f"**{before_total:.2f}**", f"**{after_total:.2f}**", "", ""))
    return table(("phase", "request", "before", "after", "change", "why"), body)


def _verdict(before: float, after: float) -> str:
    if abs(before - after) < 0.005:
        return "Unchanged (issue 13's goal: met)."
    return (
        f"Issue 13's goal (unchanged) is **missed** ({after - before:+.2f} a task). The "
        "worker's requests per task are unchanged (issue 12)."
    )
