"""What a message copy means, given its task's item: the one rule for every copy that
cannot (or may not) start an attempt, used by the worker after a refused claim and by the
reconciler for messages SQS moved to a dead-letter queue on its own.

    item missing                         -> Missing       never runs (expired, purged)
    SUCCESSFUL                           -> Done          delete the copy
    FAILED, letter owed for this copy    -> LetterOwed    send it, mark it sent, delete
    FAILED otherwise                     -> Done
    RUNNING under a live lease           -> Busy          come back when the lease ends
    not this copy, its successor unsent  -> Predecessor   send the successor, then delete
    not this copy                        -> Stray         delete: the live copy is elsewhere
    no attempts left                     -> OutOfAttempts fail it for good (a letter)
    READY before not_before              -> NotDue        come back when it is due
    otherwise                            -> Due           it may start now
"""

from dataclasses import dataclass

from sqs_tasks.item import FAILED, RUNNING, SUCCESSFUL, TaskItem


@dataclass(frozen=True, slots=True)
class Missing:
    pass


@dataclass(frozen=True, slots=True)
class Done:
    status: str


@dataclass(frozen=True, slots=True)
class LetterOwed:
    pass


@dataclass(frozen=True, slots=True)
class Predecessor:
    successor: int


@dataclass(frozen=True, slots=True)
class Stray:
    pass


@dataclass(frozen=True, slots=True)
class OutOfAttempts:
    pass


@dataclass(frozen=True, slots=True)
class Busy:
    until: float


@dataclass(frozen=True, slots=True)
class NotDue:
    until: float


@dataclass(frozen=True, slots=True)
class Due:
    pass


Verdict = Missing | Done | LetterOwed | Predecessor | Stray | OutOfAttempts | Busy | NotDue | Due


def judge(item: TaskItem | None, copy: int, now: float) -> Verdict:
    if item is None:
        return Missing()
    if item.status == SUCCESSFUL:
        return Done(item.status)
    if item.status == FAILED:
        note = item.dead_letter
        owed = note is not None and not note.sent and note.copy == copy
        return LetterOwed() if owed else Done(item.status)
    if item.lease_live(now):
        # Whatever this copy's number: the running attempt may be this copy's own (a busy
        # duplicate may have replaced it since the claim), and owe its letter.
        assert item.lease is not None
        return Busy(item.lease.until)
    if copy != item.copy:
        if item.copy_sending and copy == item.copy - 1:
            return Predecessor(item.copy)
        return Stray()
    if not item.attempts_left:
        return OutOfAttempts()
    if item.status != RUNNING and item.not_before > now:
        return NotDue(item.not_before)
    return Due()
