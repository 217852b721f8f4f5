"""Sensitive arguments: the task gets them, nothing the task system stores or logs does."""

import json
import logging

import boto3
import pytest
from django.core.management import call_command
from django.tasks import TaskResultStatus, default_task_backend, task
from django.tasks.exceptions import InvalidTask

from sqs_tasks.testing import drain_queue
from tests.helpers import REGION, attributes_of, visible_messages

TOKEN = "tok-3f9a-very-secret"
SEEN: list[str] = []


@task(sensitive=("token",), max_attempts=1)
def sync_account(account: int, token: str, *, verbose: bool = False) -> int:
    SEEN.append(token)
    if account < 0:
        raise ValueError(f"the service refused token {token} for account {account}")
    return len(token)


@task(sensitive=("secret",), takes_context=True, max_attempts=1)
def with_context(context, secret: str) -> str:
    SEEN.append(secret)
    return "done"


def everything_stored(aws, task_id: str) -> str:
    """Every place the task system keeps something about a task, as text."""
    table = boto3.client("dynamodb", region_name=REGION).get_item(
        TableName="app-test-tasks", Key={"id": {"S": task_id}}
    )["Item"]
    queued = [m["Body"] for m in visible_messages(aws["default"])]
    letters = visible_messages(aws["default-dlq"])
    return json.dumps(
        [table, queued, [m["Body"] for m in letters], [attributes_of(m) for m in letters]]
    )


@pytest.fixture(autouse=True)
def fresh():
    SEEN.clear()


def test_the_task_gets_the_value_and_nothing_stored_holds_it(aws):
    result = sync_account.enqueue(7, TOKEN)
    assert result.args == [7, "[redacted]"]
    assert TOKEN not in everything_stored(aws, result.id)
    drain_queue("default")
    assert SEEN == [TOKEN]
    done = default_task_backend.get_result(result.id)
    assert done.return_value == len(TOKEN) and done.args == [7, "[redacted]"]
    assert TOKEN not in everything_stored(aws, result.id)


def test_given_by_keyword_too(aws):
    result = sync_account.enqueue(account=7, token=TOKEN, verbose=True)
    assert result.kwargs == {"account": 7, "token": "[redacted]", "verbose": True}
    drain_queue("default")
    assert SEEN == [TOKEN]


def test_a_context_task_names_its_own_parameters(aws):
    result = with_context.enqueue(TOKEN)
    assert result.args == ["[redacted]"]
    drain_queue("default")
    assert SEEN == [TOKEN]


def test_a_failure_quoting_the_value_is_scrubbed_everywhere(aws, caplog):
    caplog.set_level(logging.INFO)
    result = sync_account.enqueue(-1, TOKEN)
    drain_queue("default")
    failed = default_task_backend.get_result(result.id)
    assert failed.status == TaskResultStatus.FAILED
    assert "refused token [redacted]" in failed.errors[-1].traceback
    assert TOKEN not in everything_stored(aws, result.id)  # the letter and its attributes too
    assert TOKEN not in caplog.text


def test_a_redriven_task_gets_its_value_back(aws):
    result = sync_account.enqueue(-1, TOKEN)
    drain_queue("default")
    call_command("tasks_redrive", "--task-id", result.id)
    drain_queue("default")
    assert SEEN == [TOKEN, TOKEN]


def test_the_values_live_under_sensitive_with_a_name_that_says_nothing(aws):
    sync_account.enqueue(7, TOKEN)
    (body,) = [json.loads(m["Body"]) for m in visible_messages(aws["default"])]
    reference = body["sensitive_ref"]
    assert reference["key"].startswith("sensitive/d45/") and TOKEN not in reference["key"]
    assert set(reference) == {"bucket", "key", "mac"}  # an HMAC, not a guessable hash


def test_swapped_values_are_refused(aws):
    result = sync_account.enqueue(7, TOKEN)
    (body,) = [json.loads(m["Body"]) for m in visible_messages(aws["default"])]
    boto3.client("s3", region_name=REGION).put_object(
        Bucket=body["sensitive_ref"]["bucket"],
        Key=body["sensitive_ref"]["key"],
        Body=json.dumps({"args": {"1": "attacker's"}, "kwargs": {}}).encode(),
    )
    drain_queue("default")
    assert SEEN == []
    failed = default_task_backend.get_result(result.id)
    assert failed.errors[-1].exception_class_path == "sqs_tasks.exceptions.MissingPayload"


def test_a_name_that_is_no_parameter_is_refused_at_definition():
    def work(a: int) -> None: ...

    work.__qualname__ = "work"
    with pytest.raises(InvalidTask, match="sensitive names no parameter"):
        task(sensitive=("token",))(work)


# -- review (issue 15): values that still reach what is stored ------------------------------


def variadic_tokens(account: int, *tokens: str) -> int:
    SEEN.extend(tokens)
    return len(tokens)


def keyword_extras(account: int, **extras: str) -> int:
    SEEN.extend(extras.values())
    return len(extras)


@pytest.mark.parametrize(
    ("function", "name", "args", "kwargs"),
    [
        (variadic_tokens, "tokens", (7, TOKEN), {}),
        (keyword_extras, "extras", (7,), {"password": TOKEN}),
    ],
)
def test_a_variadic_parameter_named_sensitive_is_redacted_or_refused(
    aws, function, name, args, kwargs
):
    """check_names accepts any parameter name, but split() only looks at named positional
    parameters and at kwargs by the parameter's own name: `*tokens` (VAR_POSITIONAL) or
    `**extras` (VAR_KEYWORD) is never matched, so the value travels in the message body,
    the item, get_result and (on failure) the dead letter, in clear, while the developer
    believes it is protected. Redact every value the variadic parameter collects, or
    refuse such a name at definition (InvalidTask)."""
    try:
        declared = task(sensitive=(name,))(function)
    except InvalidTask:
        return  # refused at definition: as good
    result = declared.enqueue(*args, **kwargs)
    assert TOKEN not in everything_stored(aws, result.id)


CREDENTIALS = {"user": "ann", "password": TOKEN}


@task(sensitive=("credentials",), max_attempts=1)
def log_in(credentials: dict) -> None:
    raise PermissionError(f"the service refused password {credentials['password']}")


def test_a_failure_quoting_part_of_a_sensitive_value_is_scrubbed(aws):
    """`credentials` is sensitive and a dict; the task's error quotes its password.
    Values.texts() scrubs str(value) only: "{'user': 'ann', 'password': '...'}" never
    occurs in the message, the password alone does, so it is stored in the item's errors,
    the dead letter's exception_message attribute, and the logs. Scrub every string (and
    number) inside a sensitive value, not only its whole repr."""
    result = log_in.enqueue(CREDENTIALS)
    drain_queue("default")
    assert default_task_backend.get_result(result.id).status == TaskResultStatus.FAILED
    assert TOKEN not in everything_stored(aws, result.id)


@task(sensitive=("token",), max_attempts=1)
def quotes_it_late(token: str) -> None:
    raise ValueError("." * 985 + token)


def test_a_value_cut_by_the_message_limit_is_still_scrubbed(aws, caplog):
    """The error message is 985 characters, then the token. ErrorRecord.from_exception
    keeps the first MESSAGE_LIMIT (1,000) characters, cutting the token after 15 of its
    20; the runner then scrubs the whole token, which no longer occurs: "tok-3f9a-very-"
    stays in the item's errors, the dead letter's exception_message attribute and the
    attempt's log line. The same holds for a token cut by the traceback's 8 KiB tail.
    Scrub the full text first, then truncate."""
    caplog.set_level(logging.INFO)
    result = quotes_it_late.enqueue(TOKEN)
    drain_queue("default")
    assert default_task_backend.get_result(result.id).status == TaskResultStatus.FAILED
    assert TOKEN[:15] not in everything_stored(aws, result.id)
    assert TOKEN[:15] not in caplog.text
