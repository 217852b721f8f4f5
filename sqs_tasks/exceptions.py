"""Errors of the task path. Every rejection names its reason, for logs and dead letters."""

from django.tasks.exceptions import InvalidTask, TaskException


class InvalidTaskArguments(InvalidTask):
    """Arguments that cannot travel: not JSON, too large, or not matching the function."""


class EnqueueError(TaskException):
    """SQS or DynamoDB refused part of an enqueue; the ids say which tasks were not sent."""

    def __init__(self, message: str, task_ids: list[str]) -> None:
        super().__init__(message)
        self.task_ids = task_ids


class RejectedMessage(Exception):
    """A message that must never run (contract 7): it is dead-lettered with this reason."""

    def __init__(self, reason: str, *, task_id: str = "", task_path: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.task_id = task_id
        self.task_path = task_path


class InvalidSignature(RejectedMessage):
    pass


class KeysBehind(Exception):
    """A signature that verifies with no key held, on a message that may carry a newer one
    than this process has read: it comes back once the keys may be read again."""

    def __init__(self, retry_in: float) -> None:
        super().__init__(f"the signing keys may be behind; looking again in {retry_in:.0f}s")
        self.retry_in = retry_in


class MalformedEnvelope(RejectedMessage):
    pass


class UnknownTask(RejectedMessage):
    pass


class MissingPayload(RejectedMessage):
    pass


class TaskTimeout(BaseException):
    """The attempt ran past its time limit and was interrupted.

    A BaseException, like KeyboardInterrupt, so a task's own `except Exception` cannot
    swallow it and run on past its limit. For `retry_on` it counts as a TimeoutError."""


class ExpectedFailure(Exception):
    """Raise it (or a subclass) from a task for a failure that is nobody's bug: a user's
    malformed file, a record that no longer exists. The task fails for good at once, with
    its error, and leaves no dead letter: the dead-letter queue holds only what is worth
    fixing and redriving (contract 6)."""


class UnstorableResult(Exception):
    """The task returned a value that cannot be stored as strict JSON. The body ran, so the
    task is not retried: it fails for good with this error."""


class WorkerLost(Exception):
    """An earlier attempt stopped without recording an outcome (Lambda timeout or crash)."""


class OutcomeUnrecorded(Exception):
    """An attempt ran under its lease, but its outcome could not be recorded (DynamoDB or
    S3 refused past every try). Nothing can start the task before `lease_until`: its
    message is better hidden until then than back in seconds to find it busy."""

    def __init__(self, lease_until: float) -> None:
        super().__init__(f"the outcome was not recorded; the lease holds until {lease_until}")
        self.lease_until = lease_until


class TaskCancelled(Exception):
    """An operator cancelled the task before it started."""


class MissingResult(RejectedMessage):
    """No result item for the task: expired, purged, or never written."""


class ArgumentMismatch(RejectedMessage):
    """The arguments do not fit the function as it is deployed now."""


class MisroutedMessage(RejectedMessage):
    """The message names another queue than the one it arrived on."""
