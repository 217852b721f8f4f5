"""Issue 7's console: the saved queries, the dashboard and the alarms point at log groups,
metrics and resources that exist, and at the names the code really emits."""

import json
import re

from django.conf import settings

from sqs_tasks import metrics
from stack.template import resources_of_type

EMITTED = {metrics.ENQUEUED, metrics.SUCCEEDED, metrics.RETRIED, metrics.FAILED, metrics.DURATION}
OUTBOX = {metrics.RELAYED, metrics.RELAY_FAILED, metrics.OUTBOX_AGE}


def refs(value) -> set[str]:
    """Logical ids a list of {"Ref": id} names."""
    return {item["Ref"] for item in value}


def expand(rows: list[list]) -> list[list]:
    """CloudWatch's shorthand: "." repeats the cell above, "..." the rest of the row above."""
    full: list[list] = []
    for row in rows:
        cells = [c for c in row if not isinstance(c, dict)]
        if cells and cells[0] == "...":
            cells = full[-1][: len(full[-1]) - len(cells) + 1] + cells[1:]
        full.append([full[-1][i] if c == "." else c for i, c in enumerate(cells)])
    return full


def dashboards(template) -> dict[str, tuple[str, dict]]:
    """Logical id -> (body, variables) of every dashboard."""
    return {
        logical_id: tuple(dashboard["Properties"]["DashboardBody"]["Fn::Sub"])
        for logical_id, dashboard in resources_of_type(
            template, "AWS::CloudWatch::Dashboard"
        ).items()
    }


def widgets(body: str) -> list[dict]:
    return json.loads(re.sub(r"\$\{[^}]+\}", "X", body))["widgets"]


def test_saved_queries_cover_what_operators_ask(template):
    queries = resources_of_type(template, "AWS::Logs::QueryDefinition")
    names = " ".join(q["Properties"]["Name"]["Fn::Sub"] for q in queries.values())
    for purpose in (
        "failures-by-task",
        "one-task-history",
        "slowest-tasks",
        "retries-by-exception",
    ):
        assert purpose in names
    log_groups = set(resources_of_type(template, "AWS::Logs::LogGroup"))
    for query in queries.values():
        assert refs(query["Properties"]["LogGroupNames"]) <= log_groups
        text = query["Properties"]["QueryString"]
        # Fields the queries read are fields the attempt log line writes.
        for field in re.findall(r"\b(outcome|task_path|error_class|duration_ms|task_id)\b", text):
            assert field in {"outcome", "task_path", "error_class", "duration_ms", "task_id"}
        assert "task attempt finished" in text or "task_id" in text


def test_queries_read_fields_the_worker_really_logs(template, aws, caplog):
    """Run a failing task through the worker, then check every field a saved query filters
    or groups by is in the attempt's log lines."""
    from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

    from sqs_tasks import log_context
    from sqs_tasks.log_context import ContextFilter
    from sqs_tasks.testing import drain_queue
    from tests.sample_tasks import fails_with_value_error

    caplog.handler.setFormatter(LambdaPowertoolsFormatter())
    caplog.handler.addFilter(ContextFilter())
    with log_context.bound(request_id="web-request-1"):  # as RequestIdMiddleware does
        fails_with_value_error.enqueue()
    with caplog.at_level("INFO"):
        drain_queue("default")
    lines = [json.loads(caplog.handler.format(r)) for r in caplog.records]
    attempt_lines = [line for line in lines if line.get("task_id")]
    assert attempt_lines and all(line["request_id"] == "web-request-1" for line in attempt_lines)
    logged = set().union(*lines)
    ours = {
        "task_id",
        "task_path",
        "queue",
        "outcome",
        "attempt",
        "duration_ms",
        "error_class",
        "error_message",
        "request_id",
        "message",
        "level",
    }
    for query in resources_of_type(template, "AWS::Logs::QueryDefinition").values():
        fields = set(re.findall(r"\b[a-z_]+\b", query["Properties"]["QueryString"])) & ours
        assert fields <= logged, fields - logged


def test_the_overview_searches_every_queue_for_the_metrics_the_workers_emit(template):
    """A SEARCH over the stage's namespace and its one dimension finds every queue's
    metrics, including a queue added after the dashboard was written."""
    body, variables = dashboards(template)["TasksDashboard"]
    assert variables["Namespace"] == {"Fn::Sub": "${AppName}-${Stage}"}
    expressions = [
        row[0]["expression"]
        for widget in widgets(body)
        for row in widget["properties"]["metrics"]
        if isinstance(row[0], dict)
    ]
    # The namespace (the X the variable became) is quoted: it holds a hyphen.
    searched = [
        re.fullmatch(r"""SEARCH\('\{"X",(\w+)\} MetricName="(\w+)"', '\w+', 300\)""", e)
        for e in expressions
    ]
    assert all(searched), expressions
    searched = [match.groups() for match in searched]
    assert {dimension for dimension, _ in searched} == {"queue"}  # what sqs_tasks.metrics sets
    assert {metric for _, metric in searched} == EMITTED
    titles = " ".join(w["properties"]["title"] for w in widgets(body))
    assert "by queue" in titles and "schedules dead-letter" in titles and "outbox" in titles
    outbox = [
        row
        for widget in widgets(body)
        for row in expand(widget["properties"]["metrics"])
        if row and row[0] == "X"  # the Namespace variable, outside a SEARCH
    ]
    assert {row[1] for row in outbox} == OUTBOX
    assert all(row[2:4] == ["queue", metrics.OUTBOX] for row in outbox)


def test_each_queue_has_a_page_of_its_metrics_dead_letters_backlog_and_worker(template):
    queues = settings.TASKS["default"]["QUEUES"]
    pages = {
        logical_id: page
        for logical_id, page in dashboards(template).items()
        if logical_id != "TasksDashboard"
    }
    assert set(pages) == {f"Dashboard{queue}" for queue in queues}
    resources = set(template["Resources"])
    for queue in queues:
        body, variables = pages[f"Dashboard{queue}"]
        assert variables["QueueName"] == {"Fn::GetAtt": [f"Queue{queue}", "QueueName"]}
        assert variables["DeadLetterQueueName"] == {
            "Fn::GetAtt": [f"DeadLetterQueue{queue}", "QueueName"]
        }
        assert variables["FunctionName"] == {"Ref": f"WorkerFunction{queue}"}
        for name in re.findall(r"\$\{(\w+)(?:\.\w+)?\}", body):
            assert name in resources | set(variables) | {"AWS"}, name
        custom = [
            row
            for widget in widgets(body)
            for row in expand(widget["properties"]["metrics"])
            if row[0] == "X"  # the Namespace variable
        ]
        assert {row[1] for row in custom} == EMITTED
        assert all(row[2:4] == ["queue", queue] for row in custom)  # the loop filled it in
        titles = " ".join(w["properties"]["title"] for w in widgets(body))
        for topic in ("dead-letter", "oldest message", "errors and throttles", "p50"):
            assert topic in titles


def test_template_namespace_matches_the_functions_environment(template):
    variables = template["Globals"]["Function"]["Environment"]["Variables"]
    assert variables["POWERTOOLS_METRICS_NAMESPACE"] == {"Fn::Sub": "${AppName}-${Stage}"}


def test_alarms_watch_resources_of_this_stack(template):
    resources = template["Resources"]
    for name, alarm in resources_of_type(template, "AWS::CloudWatch::Alarm").items():
        for dimension in alarm["Properties"].get("Dimensions", []):
            value = dimension["Value"]
            if dimension["Name"] == "queue":  # our own metrics: the pseudo-queue outbox
                assert value == metrics.OUTBOX, name
                continue
            target = value.get("Ref") or value.get("Fn::GetAtt", [None])[0]
            assert target in resources, f"{name} watches {value}"
        assert alarm["Properties"]["AlarmActions"] == [{"Ref": "AlarmTopic"}]
