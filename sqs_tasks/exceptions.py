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


class MalformedEnvelope(RejectedMessage):
    pass


class UnknownTask(RejectedMessage):
    pass


class MissingPayload(RejectedMessage):
    pass


class TaskTimeout(TimeoutError):
    """The attempt ran past its time limit and was interrupted."""


class WorkerLost(Exception):
    """An earlier attempt stopped without recording an outcome (Lambda timeout or crash)."""


class TaskCancelled(Exception):
    """An operator cancelled the task before it started."""


class MissingResult(RejectedMessage):
    """No result item for the task: expired, purged, or never written."""


class ArgumentMismatch(RejectedMessage):
    """The arguments do not fit the function as it is deployed now."""
