"""What a failed task may tell the person who started it.

A task's exception message is stored with its result, and may name files, hosts or
internals. Only exceptions raised on purpose for the user (`UserFacingError`) are shown
as they are; anything else becomes a plain sentence. Tracebacks never reach a page.
"""

from collections.abc import Iterator
from contextlib import contextmanager

from django.utils.module_loading import import_string

GENERIC_FAILURE = "Something went wrong on our side. You can retry; if it keeps failing, tell us."
# A failure the task declared expected (sqs_tasks.exceptions.ExpectedFailure) whose own
# message is not for users: a retry would fail the same way, so none is offered.
EXPECTED_FAILURE = "This task cannot be done with what it was given; trying again would not help."

# Failures the task system itself records, in words a user understands.
SYSTEM_FAILURES = {
    "sqs_tasks.exceptions.TaskTimeout": "The task took too long and was stopped.",
    "sqs_tasks.exceptions.WorkerLost": "The worker running the task stopped unexpectedly.",
    "sqs_tasks.exceptions.TaskCancelled": "The task was cancelled.",
    "sqs_tasks.exceptions.UnstorableResult": "The task ran, but its result could not be saved.",
}

# Only our own code raises UserFacingError: never import a path from elsewhere.
_OWN_CODE = "django_app."


class UserFacingError(Exception):
    """A failure whose message is written for the person who started the task."""


class TransientError(UserFacingError):
    """A failure worth another attempt: tasks name it in `retry_on`.

    `retry_after` is the least time the cause asked us to wait (an HTTP Retry-After),
    when it said so."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def user_message(exception_class_path: str, message: str, *, expected: bool = False) -> str:
    """The sentence a page shows for a recorded failure (`expected`: one the task declared
    expected, which is never retried)."""
    fallback = EXPECTED_FAILURE if expected else GENERIC_FAILURE
    if exception_class_path in SYSTEM_FAILURES:
        return SYSTEM_FAILURES[exception_class_path]
    if exception_class_path.startswith(_OWN_CODE):
        try:
            kind = import_string(exception_class_path)
        except ImportError:
            return fallback
        if isinstance(kind, type) and issubclass(kind, UserFacingError):
            return message
    return fallback


@contextmanager
def aws_errors_are_transient(action: str) -> Iterator[None]:
    """Turn an AWS error (throttling, a network blip) into a TransientError, so the task
    is retried and the user reads "could not <action>" rather than a botocore message."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        yield
    except (BotoCoreError, ClientError) as error:
        raise TransientError(f"Could not {action} just now; trying again.") from error
