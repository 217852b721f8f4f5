"""DynamoDB refusing a write for a reason that passes, and asking again while there is time.

A refusal passes when the same request may go through a moment later: a burst above a
provisioned table's capacity, throttling, a conflict with another transaction, DynamoDB's
own fault, a connection or a read that failed. botocore retries these itself, a few times
in a few seconds (aws.py); a burst on a provisioned table lasts until auto scaling catches
up, minutes. Where giving up costs more than waiting (an attempt's outcome: given up, the
task's body runs again once its lease ends), `keep_asking` goes on, for as long as its
caller can afford. An answer (ConditionalCheckFailed) or a request that is wrong
(validation, access, an item collection too large) is never asked again.
"""

import random
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext

from botocore.exceptions import ClientError, ConnectionError, HTTPClientError

from sqs_tasks import aws

# The codes of a passing refusal: as a statement's error (BatchStatementError) and as a
# cancelled transaction's reason (CancellationReason)...
PASSING_REASONS = frozenset(
    {
        "ThrottlingError",
        "ProvisionedThroughputExceeded",
        "RequestLimitExceeded",
        "InternalServerError",
        "TransactionConflict",
    }
)
# ... and as a whole request's error, once botocore's own retries are spent (any 5xx too).
PASSING_ERRORS = frozenset(
    {
        "ThrottlingException",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "InternalServerError",
        "ServiceUnavailable",
        "TransactionConflictException",  # the item is in another transaction's write
        "TransactionInProgressException",  # a try with this ClientRequestToken still runs
    }
)
BACKOFF = 0.1  # seconds before the first ask again; doubled each time, with full jitter
BACKOFF_MAX = 10.0


class Clock:
    """What the asking waits on. Tests, and the chaos world with its virtual time, put a
    clock of their own in `clock`, so that no pause is waited out for real."""

    def now(self) -> float:
        return time.time()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


clock = Clock()


def passing(error: BaseException) -> bool:
    """Whether DynamoDB refused for a reason that passes (see the module's docstring)."""
    if isinstance(error, ConnectionError | HTTPClientError):  # a read timeout among them
        return True
    if not isinstance(error, ClientError):
        return False
    code = error_code(error)
    if code == "TransactionCanceledException":
        reasons = {
            reason.get("Code", "None") for reason in error.response.get("CancellationReasons", [])
        } - {"None"}
        return bool(reasons) and reasons <= PASSING_REASONS
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    return code in PASSING_ERRORS or status >= 500


def error_code(error: ClientError) -> str:
    return error.response.get("Error", {}).get("Code", "")


def backoff(base: float, tries: int, cap: float = BACKOFF_MAX) -> float:
    """How long to wait before asking again after `tries` refusals: full jitter."""
    return random.uniform(0, min(cap, base * 2 ** min(tries, 30)))


def keep_asking[T](send: Callable[[], T], until: float | None) -> T:
    """`send()`, and again after each passing refusal, with jittered exponential back-off,
    as long as the next try would be over by `until` (time.time()); then the last refusal
    raises on. Any other error raises at once; so does a refusal when `until` is None.

    Each try goes on the patient clients if their slowest call would still end by `until`
    (aws.CALL_LIMIT), else on the prompt ones (aws.PROMPT_CALL_LIMIT); a try after a refusal
    starts only if a prompt call would end by then. The first try is always made, as it was
    before there was an `until`. `send` must get its client when called, and send the very
    same request each time: the one that went through, its answer lost, is then refused by
    its own write (ConditionalCheckFailed, with the item) or answered as the first (a
    TransactWriteItems' ClientRequestToken)."""
    tries = 0
    while True:
        try:
            with _clients_for(until):
                return send()
        except Exception as error:
            if until is None or not passing(error):
                raise
            tries += 1
            pause = backoff(BACKOFF, tries)
            if clock.now() + pause + aws.PROMPT_CALL_LIMIT > until:
                raise
            clock.sleep(pause)


def _clients_for(until: float | None) -> AbstractContextManager[None]:
    if until is None or clock.now() + aws.CALL_LIMIT <= until:
        return nullcontext()
    return aws.prompt()
