"""Tasks under limits, for tests/core/test_limits.py. Module level, as Django requires."""

import threading
import time

from django.tasks import task

from sqs_tasks.limits import Concurrency, Rate

RUNS: list[tuple[str, float, float]] = []  # (tag, started, finished)
_lock = threading.Lock()


def _run(tag: str, seconds: float) -> str:
    started = time.time()
    time.sleep(seconds)
    with _lock:
        RUNS.append((tag, started, time.time()))
    return tag


@task(limits=[Concurrency(1, key=lambda account, tag: account)])
def one_per_account(account: str, tag: str) -> str:
    return _run(tag, 0.02)


@task(limits=[Rate(5, per="second")])
def five_a_second(tag: str) -> str:
    return _run(tag, 0)


@task(limits=["shared-api"])
def calls_the_api(tag: str) -> str:
    return _run(tag, 0)


@task(limits=["shared-api"])
def also_calls_the_api(tag: str) -> str:
    return _run(tag, 0)


class ApiHiccup(Exception):
    pass


@task(limits=["shared-api"], max_attempts=2, retry_on=(ApiHiccup,))
def fails_once_calling_the_api(tag: str) -> str:
    first = not any(run[0] == tag for run in RUNS)
    _run(tag, 0)
    if first:
        raise ApiHiccup("the API failed once")
    return tag


@task(limits=[Rate(1, per="second", name="api-a"), Rate(1, per="second", name="api-b")])
def calls_two_apis(tag: str) -> str:
    return _run(tag, 0)


@task(limits=[Concurrency(1, key=lambda account, tag: account), "shared-api"])
def one_per_account_on_the_api(account: str, tag: str) -> str:
    return _run(tag, 0)


@task(limits=[Concurrency(1, key=lambda key: key), Rate(100, per="second")])
def one_at_a_time_and_rated(key: str) -> str:
    return _run(key, 0)
