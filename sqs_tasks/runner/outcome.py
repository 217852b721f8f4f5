"""What handling one message copy came to. The worker turns each into the message's fate
(worker/disposition.py), with `match`, so this set is closed: a new case is a new class
here and a new arm there."""

from dataclasses import dataclass

from sqs_tasks.errors import ErrorRecord
from sqs_tasks.limits.gate import Reservations


@dataclass(frozen=True, slots=True)
class Succeeded:
    pass


@dataclass(frozen=True, slots=True)
class RetryLater:
    """Failed with attempts left: the item is READY again, due in `delay` seconds."""

    error: ErrorRecord
    delay: float


@dataclass(frozen=True, slots=True)
class Waiting:
    """No attempt now: the task is not due yet, another live attempt holds it, or a limit
    holds it back. The message comes back after `delay` seconds; nothing was spent but a
    receive. With `reserved`, a limit counted starts for it: a fresh copy carries them."""

    delay: float
    reason: str  # "not due", "busy", a limit's
    reserved: Reservations | None = None


@dataclass(frozen=True, slots=True)
class Letter:
    """What a dead letter says about its task (contract 6), from the item or the failure."""

    task_id: str
    task_path: str
    exception_class: str
    exception_message: str
    attempts: int
    first_failed_at: str
    copy: int  # the message copy whose body the letter carries


@dataclass(frozen=True, slots=True)
class Failed:
    """Failed for good, and the item owes this dead letter (sent next, then marked)."""

    letter: Letter
    error: ErrorRecord | None = None  # the failure of this attempt, when there was one


@dataclass(frozen=True, slots=True)
class Finished:
    """Nothing is owed: the task succeeded, or failed with its letter sent or with none
    owed (an expected failure, a cancellation). The message is deleted."""

    status: str
    error: ErrorRecord | None = None  # the failure of this attempt, when there was one


@dataclass(frozen=True, slots=True)
class Superseded:
    """This copy is not the live one. With `successor`, the live copy may not have been
    sent yet (its sender stopped midway): send it first, then delete this one."""

    successor: int | None = None


Outcome = Succeeded | RetryLater | Waiting | Failed | Finished | Superseded
