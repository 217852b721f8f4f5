"""Whether a failed attempt is tried again, and after how long."""

import random
from functools import cache

from django.utils.module_loading import import_string

from sqs_tasks.envelope import AttemptPolicy
from sqs_tasks.exceptions import ExpectedFailure, TaskTimeout, UnstorableResult

MAX_VISIBILITY = 12 * 3600 - 300  # SQS caps a message's hidden time at 12 h from its receipt


@cache
def _exception_class(path: str) -> type[BaseException] | None:
    try:
        kind = import_string(path)
    except ImportError:
        return None
    return kind if isinstance(kind, type) and issubclass(kind, BaseException) else None


def is_retryable(error: BaseException, policy: AttemptPolicy) -> bool:
    """Whether `retry_on` covers the error. A time limit counts as a TimeoutError (it is a
    BaseException only so that task code cannot swallow it); an expected failure or a
    value that cannot be stored is never retried: trying again would change nothing."""
    if isinstance(error, ExpectedFailure | UnstorableResult):
        return False
    kinds = tuple(kind for kind in map(_exception_class, policy.retry_on) if kind)
    if isinstance(error, TaskTimeout):
        return any(issubclass(TimeoutError, kind) for kind in kinds)
    return isinstance(error, kinds)


def should_retry(error: BaseException, policy: AttemptPolicy, attempts: int) -> bool:
    return attempts < policy.max_attempts and is_retryable(error, policy)


def backoff_delay(attempts: int, base: float, cap: float) -> float:
    """Exponential backoff with "equal jitter": half fixed, half random, so retries of a
    burst spread out while each still waits at least half its step."""
    step = min(cap, base * 2 ** max(0, attempts - 1), MAX_VISIBILITY)
    return step / 2 + random.uniform(0, step / 2)


def retry_delay(error: BaseException, attempts: int, base: float, cap: float) -> float:
    """The backoff, or longer when the error says how long to wait (a `retry_after`
    attribute, in seconds, as from an HTTP 429's Retry-After): coming back sooner than a
    server asked only earns another refusal."""
    asked = getattr(error, "retry_after", None)
    delay = backoff_delay(attempts, base, cap)
    if isinstance(asked, int | float) and asked > 0:
        delay = max(delay, min(float(asked), MAX_VISIBILITY))
    return delay
