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


def dashboard_body(template) -> tuple[dict, dict]:
    (dashboard,) = resources_of_type(template, "AWS::CloudWatch::Dashboard").values()
    body, variables = dashboard["Properties"]["DashboardBody"]["Fn::Sub"]
    return body, variables


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


def test_dashboard_reads_the_metrics_the_workers_emit(template):
    body, variables = dashboard_body(template)
    assert variables["Namespace"] == {"Fn::Sub": "${AppName}-${Stage}"}
    resources = set(template["Resources"])
    for name in re.findall(r"\$\{(\w+)(?:\.\w+)?\}", body):
        assert name in resources | {"Namespace", "AWS"}, name
    widgets = json.loads(re.sub(r"\$\{[^}]+\}", "X", body))["widgets"]
    custom = [
        row
        for widget in widgets
        for row in expand(widget["properties"]["metrics"])
        if row[0] == "X"  # the Namespace variable
    ]
    assert {row[1] for row in custom} == EMITTED | OUTBOX
    tasks = [row for row in custom if row[1] in EMITTED]
    assert {row[3] for row in tasks} == set(settings.TASKS["default"]["QUEUES"])
    assert {row[3] for row in custom if row[1] in OUTBOX} == {metrics.OUTBOX}
    assert all(row[2] == "queue" for row in custom)  # the one dimension sqs_tasks.metrics sets
    titles = " ".join(w["properties"]["title"] for w in widgets)
    for topic in ("dead-letter", "oldest message", "errors and throttles", "p50", "outbox"):
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
