"""What an attempt came to. The worker turns each into what happens to the message."""

from dataclasses import dataclass

from sqs_tasks.errors import ErrorRecord


@dataclass(frozen=True, slots=True)
class Succeeded:
    pass


@dataclass(frozen=True, slots=True)
class RetryLater:
    """Failed with attempts left: the message comes back after `delay` seconds."""

    error: ErrorRecord
    delay: float


@dataclass(frozen=True, slots=True)
class Failed:
    """Failed for good: the message belongs in the dead-letter queue."""

    error: ErrorRecord
    attempts: int
    first_failed_at: str


@dataclass(frozen=True, slots=True)
class AlreadyFinished:
    """A duplicate delivery of a task that has finished (or was cancelled): drop it."""

    status: str


@dataclass(frozen=True, slots=True)
class Busy:
    """Another live attempt holds the task: look again when its lease runs out."""

    delay: float


@dataclass(frozen=True, slots=True)
class Lost:
    """The outcome could not be recorded because another attempt took the task over."""


Outcome = Succeeded | RetryLater | Failed | AlreadyFinished | Busy | Lost
