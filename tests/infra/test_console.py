"""Issue 7's console: the saved queries, the dashboard and the alarms point at log groups,
metrics and resources that exist, and at the names the code really emits."""

import json
import re

from sqs_tasks import metrics
from stack.template import resources_of_type
from tests.infra.task_queues import sqs_task_queues

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


def searches(body: str) -> list[str]:
    """Every SEARCH expression of a dashboard's body, its variables still in it."""
    return re.findall(r"SEARCH\(.*?, \d+\)", body.replace('\\"', '"'))


def test_one_dashboard_a_stage_whatever_the_queues(template):
    """Each dashboard past an account's three free ones costs $3 a month: the stage has one,
    the same in dev and prod, and a queue added to TaskQueues adds no other."""
    assert set(dashboards(template)) == {"TasksDashboard"}
    assert "Condition" not in template["Resources"]["TasksDashboard"]


def test_the_overview_searches_every_queue_for_the_metrics_the_workers_emit(template):
    """A SEARCH over the stage's namespace and its one dimension finds every queue's
    metrics, including a queue added after the dashboard was written."""
    body, variables = dashboards(template)["TasksDashboard"]
    assert variables["Namespace"] == {"Fn::Sub": "${AppName}-${Stage}"}
    rows = [row for widget in widgets(body) for row in widget["properties"]["metrics"]]
    assert len(searches(body)) == sum(isinstance(row[0], dict) for row in rows)  # all read
    ours = [e for e in searches(body) if e.startswith('SEARCH(\'{"${Namespace}"')]
    # The namespace is quoted: it holds a hyphen.
    shape = r"""SEARCH\('\{"\$\{Namespace\}",(\w+)\} MetricName="(\w+)"', '\w+', 300\)"""
    searched = [re.fullmatch(shape, e) for e in ours]
    assert all(searched), ours
    searched = [match.groups() for match in searched]
    # What sqs_tasks.metrics emits: per queue, and the limits' waits per limit.
    by_queue = {metric for dimension, metric in searched if dimension == "queue"}
    by_limit = {metric for dimension, metric in searched if dimension == "limit"}
    assert {dimension for dimension, _ in searched} == {"queue", "limit"}
    assert by_queue == EMITTED
    # How many wait (a count a limit), and for how long (the seconds the limit said).
    assert by_limit == {metrics.LIMIT_WAITS, metrics.LIMIT_WAIT_SECONDS}
    titles = " ".join(w["properties"]["title"] for w in widgets(body))
    for topic in ("by queue", "limit waits", "outbox", "p50", "p99"):
        assert topic in titles
    outbox = [
        row
        for widget in widgets(body)
        for row in expand(widget["properties"]["metrics"])
        if row and row[0] == "X"  # the Namespace variable, outside a SEARCH
    ]
    assert {row[1] for row in outbox} == OUTBOX
    assert all(row[2:4] == ["queue", metrics.OUTBOX] for row in outbox)


# -- SQS's and Lambda's metrics, found by the tokens of the stage's names ------------------


def resolve(node, parameters: dict[str, str]):
    """The few intrinsics the dashboard's variables use, for a set of parameters."""
    if isinstance(node, str):
        return node
    ((function, argument),) = node.items()
    match function:
        case "Ref":
            return parameters[argument]
        case "Fn::Sub":
            return re.sub(r"\$\{(\w+)\}", lambda m: parameters[m.group(1)], argument)
        case "Fn::Split":
            delimiter, text = argument
            return resolve(text, parameters).split(delimiter)
        case "Fn::Join":
            delimiter, parts = argument
            parts = resolve(parts, parameters) if isinstance(parts, dict) else parts
            return delimiter.join(
                resolve(part, parameters) if not isinstance(part, list) else part for part in parts
            )
    raise AssertionError(f"unexpected {function}")


def found_by(search: str, name: str) -> bool:
    """CloudWatch's documented matching of unquoted terms, for the names at hand: a term
    matches a token of the name (names split at hyphens), every term must match, and NOT
    excludes. The metric name is matched exactly, apart."""
    terms = re.sub(r'MetricName="\w+"', "", search.split("}", 1)[1].split("'")[0]).split()
    tokens = set(name.split("-"))
    wanted, negated = [], False
    for term in terms:
        if term == "NOT":
            negated = True
            continue
        value = term.split("=", 1)[1]
        wanted.append((value in tokens) != negated)
        negated = False
    return all(wanted)


STAGES_TRIED = [
    {"AppName": "app", "Stage": "dev"},
    {"AppName": "my-shop", "Stage": "prod"},
    {"AppName": "a2-b", "Stage": "prod"},
]


def kinds(template, parameters: dict[str, str]) -> tuple[set[str], set[str], set[str]]:
    """The stage's dead-letter queues, its other queues, and its functions, by name."""
    dead, queues, functions = set(), set(), set()
    for resource in template["Resources"].values():
        properties = resource.get("Properties", {})
        for key, kind in (("QueueName", queues), ("FunctionName", functions)):
            name = properties.get(key)
            if isinstance(name, dict) and "Fn::Sub" in name:
                name = resolve(name, parameters)
                (dead if name.endswith("-dlq") else kind).add(name)
    return dead, queues, functions


def stage_searches(template, parameters: dict[str, str]) -> dict[str, str]:
    """The dashboard's searches of AWS/SQS and AWS/Lambda, by metric, variables filled in."""
    body, variables = dashboards(template)["TasksDashboard"]
    filled = {key: resolve(value, parameters) for key, value in variables.items()}
    found = {}
    for expression in searches(body):
        if "{AWS/" in expression:
            metric = re.search(r'MetricName="(\w+)"', expression).group(1)
            found[metric] = re.sub(r"\$\{(\w+)\}", lambda m: filled[m.group(1)], expression)
    return found


def test_the_overview_finds_every_queue_s_dead_letters_backlog_and_worker(template):
    """Each queue's dead letters, the age of its oldest message and its worker's errors and
    throttles (what a page per queue showed, at $3 a month a queue), for every name of the
    stage and none of another stage's, whatever the app's name."""
    for parameters in STAGES_TRIED:
        found = stage_searches(template, parameters)
        assert set(found) == {
            "ApproximateNumberOfMessagesVisible",
            "ApproximateAgeOfOldestMessage",
            "Errors",
            "Throttles",
        }
        other_stage = {**parameters, "Stage": "dev" if parameters["Stage"] == "prod" else "prod"}
        dead, queues, functions = kinds(template, parameters)
        other_dead, other_queues, other_functions = kinds(template, other_stage)
        workers = {name for name in functions if "-worker-" in name}
        assert len(dead) == len(queues) + 1 == len(workers) + 1 == len(sqs_task_queues()) + 1
        web = f"{parameters['AppName']}-{parameters['Stage']}"  # Zappa's function
        for metric, shown, not_shown in [
            ("ApproximateNumberOfMessagesVisible", dead, queues | other_dead),
            ("ApproximateAgeOfOldestMessage", queues, dead | other_queues),
            ("Errors", workers, functions - workers | other_functions | {web}),
            ("Throttles", workers, functions - workers | other_functions | {web}),
        ]:
            search = found[metric]
            assert all(found_by(search, name) for name in shown), (search, shown)
            assert not any(found_by(search, name) for name in not_shown), (search, not_shown)


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
