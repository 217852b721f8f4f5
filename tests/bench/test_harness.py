"""A smoke run of the benchmark harness at tiny sizes: it runs and reports, in seconds.
No timing is asserted (benchmarks are not tests); request counts are exact, so they are."""

import boto3
import pytest

from bench import bill, enqueue_latency, stats
from bench.__main__ import QUICK
from bench.counting import RequestCounter, counting
from bench.items import IndexShape, ItemWatch
from bench.pricing import Usage, item_bytes
from bench.report import replace_figures, replace_section
from bench.requests_celery import WorkerProcess
from bench.run import run_all


def test_summary_median_and_spread():
    summary = stats.Summary.of([1.0, 3.0, 2.0])
    assert (summary.median, summary.low, summary.high) == (2.0, 1.0, 3.0)
    assert summary.spread == 1.0
    assert summary.format("s") == "2.0 s (1.0-3.0, spread 100%, n=3)"


def test_nearest_rank_percentiles():
    values = list(range(1, 101))
    assert [stats.percentile(values, p) for p in (0.5, 0.95, 0.99)] == [50, 95, 99]


def test_counter_bills_sqs_chunks_and_dynamodb_items():
    counter = RequestCounter()
    counter.record("sqs", "SendMessageBatch", {"Entries": [{"MessageBody": "x" * 70_000}]})
    put = {"PutRequest": {"Item": {}}}
    counter.record("dynamodb", "BatchWriteItem", {"RequestItems": {"t": [put, put]}})
    counter.record("dynamodb", "GetItem", {"ConsistentRead": True})
    counter.record("dynamodb", "GetItem", {})
    assert counter.sqs_chunks == 2  # 70 KB is two 64 KB chunks
    assert (counter.dynamodb_writes, counter.dynamodb_puts, counter.dynamodb_reads) == (2, 2, 1.5)


def test_item_size_follows_dynamodb_rules():
    assert item_bytes({"id": {"S": "abc"}, "n": {"N": "1234"}}) == (2 + 3) + (1 + 3)
    usage = Usage("x", tasks=2, dynamodb_writes=2, dynamodb_index_writes=2, item_bytes=1500)
    assert usage.wru == 8  # 1.5 KB is two WRU per write, table and index alike


INDEX = IndexShape("failed", ("failed_key", "finished_at"), ("queue",))


def test_item_watch_counts_units_and_index_writes_from_the_items(aws):
    """A write outside the index costs the index nothing; entering, changing a projected
    attribute and leaving it cost one index write each; units follow the larger state."""
    session = boto3.session.Session(region_name="us-east-1")
    watch = ItemWatch(session.client("dynamodb"), "app-test-tasks", "id", (INDEX,))
    with counting(watchers=[watch]):
        db = session.client("dynamodb")
        key = {"id": {"S": "t1"}}
        db.put_item(TableName="app-test-tasks", Item={**key, "queue": {"S": "default"}})
        db.update_item(
            TableName="app-test-tasks",
            Key=key,
            UpdateExpression="SET failed_key = :k, finished_at = :f",
            ExpressionAttributeValues={":k": {"S": "default#01"}, ":f": {"S": "2026"}},
        )
        db.update_item(
            TableName="app-test-tasks",
            Key=key,
            UpdateExpression="SET #q = :q",
            ExpressionAttributeNames={"#q": "queue"},
            ExpressionAttributeValues={":q": {"S": "heavy"}},
        )
        db.update_item(
            TableName="app-test-tasks",
            Key=key,
            UpdateExpression="SET big = :b REMOVE failed_key",
            ExpressionAttributeValues={":b": {"S": "x" * 1500}},
        )
        with pytest.raises(db.exceptions.ConditionalCheckFailedException):
            db.put_item(
                TableName="app-test-tasks", Item=key, ConditionExpression="attribute_not_exists(id)"
            )
    cost = watch.cost
    assert (cost.writes, cost.refused) == (4, 1)
    assert cost.index_writes["failed"] == 3  # in, projected change, out
    assert cost.table_units == 1 + 1 + 1 + 2 + 2  # the last write and the refusal: 1.5 KB


def test_free_tiers_and_the_celery_fleet():
    quantities = bill.Quantities(sqs_requests=1_500_000, alarms=12, dashboards=1)
    assert bill.dollars(quantities) == pytest.approx(0.6 + 1.2 + 3.0)
    assert bill.dollars(quantities, free_tier=True) == pytest.approx(0.2 + 0.2)
    worker = WorkerProcess(cpu_seconds_per_task=0.01, peak_rss_mb=100)
    assert bill.celery_fleet(10_000, worker).instances == 1
    big = bill.celery_fleet(100_000_000, worker)  # 38.6 tasks/s on average
    assert big.processes > 1 and big.instance.startswith("t4g.")


@pytest.mark.django_db(transaction=True)
def test_enqueue_latency_counts_what_each_path_does():
    result = enqueue_latency.run(samples=2, warmup=1)
    held = result["figures"]["connection held"]
    assert held["before"]["aws_calls"] == {"dynamodb:PutItem": 1, "sqs:SendMessage": 1}
    assert held["after"]["aws_calls"] == {"dynamodb:PutItem": 1, "sqs:SendMessageBatch": 1}
    assert held["before"]["statements"] == 0 and held["after"]["statements"] >= 2
    assert len(held["after"]["samples"]) == 2


@pytest.mark.django_db(transaction=True)
def test_in_process_benchmarks_run_and_render():
    summary, sections = run_all(QUICK, say=lambda _: None, only_in_process=True)
    assert "Cost per million" in summary and "Worker overhead" in summary
    assert "Monthly bill" in summary and "Partition heat" in summary
    requests, tasks = sections[0], QUICK.cost_tasks
    # Our worker claims and finishes each task with one conditional write each.
    assert f"| worker (functions.worker.handler) | dynamodb:UpdateItem | {2 * tasks} |" in requests
    assert (
        f"| zappa | enqueue (lambda:Invoke per task) | lambda:Invoke | {QUICK.cost_tasks} |"
        in requests
    )
    # A no-op task that succeeds writes three small items and no index entry.
    assert requests.count("| 3.00 (0 index) |") == 2
    assert "## 2. Worker overhead" in sections[1]
    (workflows,) = [s for s in sections if s.startswith("## 13. Workflows")]
    members = QUICK.workflow_members
    assert (
        f"| independent | worker (functions.worker.handler) | dynamodb:UpdateItem | {2 * members} |"
        in workflows
    )
    assert "Workflow fan-out/fan-in" in summary
    titles = [section.split("\n", 1)[0] for section in sections]
    for number in (6, 8, 9, 10, 12):
        assert any(title.startswith(f"## {number}.") for title in titles)


def test_one_benchmark_rewrites_only_its_section_and_summary_line():
    text = (
        "# B\n\n## Summary\n\n- **Cost**: x\n- **W**: old\n\n"
        "## W: title\n\nold\n\n## 3. Next\n\nkept\n"
    )
    replaced = replace_section(text, "## W", "## W: title\n\nnew", "- **W**", "- **W**: new")
    assert replaced == text.replace("old", "new")
    added = replace_section(
        "# B\n\n## Summary\n\n- **Cost**: x\n", "## W", "## W\n\nnew", "- **W**", "- **W**: n"
    )
    assert added == "# B\n\n## Summary\n\n- **Cost**: x\n- **W**: n\n\n## W\n\nnew\n"


def test_replacing_several_sections_keeps_the_others_and_the_summary_order():
    text = (
        "# B\n\n## Summary\n\n- **Cost**: old\n- **Speed**: kept\n- **Bill**: old\n\n"
        "## 1. Cost\n\nold\n\n## 2. Speed\n\nkept\n\n## 8. Bill\n\nold\n"
    )
    replaced = replace_figures(
        text,
        ["## 1. Cost\n\nnew", "## 8. Bill\n\nnew", "## 9. Heat\n\nadded"],
        ["- **Cost**: new", "- **Bill**: new", "- **Heat**: added"],
    )
    assert replaced == (
        "# B\n\n## Summary\n\n- **Cost**: new\n- **Speed**: kept\n- **Bill**: new\n"
        "- **Heat**: added\n\n## 1. Cost\n\nnew\n\n## 2. Speed\n\nkept\n\n"
        "## 8. Bill\n\nnew\n\n## 9. Heat\n\nadded\n"
    )


def test_the_bill_counts_one_dashboard_a_stage_whatever_its_queues():
    from bench import template_facts

    assert template_facts.dashboards() == template_facts.dashboards("dev") == 1


def test_snapstart_saving_is_what_a_cold_start_pays_that_a_restore_does_not():
    from bench import snapstart
    from bench.stats import Summary

    def phases(init, restore, first_use):
        one = Summary.of  # a single run's figures
        return snapstart.Phases(one([init]), one([restore]) if restore else None, one([first_use]))

    result = snapstart.SnapStartResult(
        cold={"worker": phases(1.0, None, 0.5), "scheduler": phases(0.8, None, 0.4)},
        restored={"worker": phases(2.0, 0.01, 0.09), "scheduler": phases(1.0, 0.01, 0.09)},
    )
    assert round(snapstart.saved_ms(result, "worker")) == 1400  # 1.5 s - 0.1 s
    assert "## 14. SnapStart" in snapstart.render(result)


def test_provisioned_capacity_follows_the_busy_hours_and_keeps_the_minimum():
    assert bill.provisioned_units(0.0, minimum=5, target=0.7) == 5
    busy = bill.PEAK_TO_AVERAGE * 100 / 0.7
    held = 1 / bill.PEAK_TO_AVERAGE + bill.SCALE_IN_LAG_HOURS / 24
    expected = held * busy + (1 - held) * 5
    assert bill.provisioned_units(100.0, minimum=5, target=0.7) == pytest.approx(expected)
    # Above the average over the target: the busy hours' capacity is kept a while longer.
    assert bill.provisioned_units(100.0, minimum=5, target=0.7) > 100 / 0.7


def test_a_provisioned_table_bills_capacity_for_the_request_units_and_its_alarms():
    from bench import template_facts

    facts = template_facts.provisioned_table()
    assert facts.target == 0.7 and facts.scaling_policies == 4
    assert {(c.part, c.writes) for c in facts.capacities} == {
        ("table", True),
        ("table", False),
        ("failed", True),
        ("failed", False),
    }
    usage = Usage("ours", tasks=1, write_units=3, index_write_units=0, dynamodb_reads=1)
    month = bill.HOURS_PER_MONTH * 3600
    on_demand = bill.SystemBill(
        "ours",
        [
            bill.Line(
                "tasks",
                lambda n: bill.Quantities(sqs_requests=n, dynamodb_wru=3 * n, dynamodb_rru=n),
            )
        ],
    )
    provisioned = bill.with_provisioned_table(on_demand, usage)
    n = 100_000_000
    moved, capacity, alarms = (line.quantities(n) for line in provisioned.lines)
    assert (moved.dynamodb_wru, moved.dynamodb_rru, moved.sqs_requests) == (0, 0, n)
    minimum = {(c.part, c.writes): c.minimum for c in facts.capacities}
    hours = bill.HOURS_PER_MONTH
    assert capacity.dynamodb_wcu_hours == pytest.approx(
        (
            bill.provisioned_units(3 * n / month, minimum["table", True], 0.7)
            + minimum["failed", True]  # no index writes measured: the index at its minimum
        )
        * hours
    )
    assert capacity.dynamodb_rcu_hours == pytest.approx(
        (bill.provisioned_units(n / month, minimum["table", False], 0.7) + minimum["failed", False])
        * hours
    )
    assert alarms.alarms == 16
    # The provisioned free tier (25 WCU and 25 RCU) covers the minimum of a quiet month.
    quiet = bill.Quantities(dynamodb_wcu_hours=10 * hours, dynamodb_rcu_hours=10 * hours)
    assert bill.dollars(quiet) > 0 and bill.dollars(quiet, free_tier=True) == 0
