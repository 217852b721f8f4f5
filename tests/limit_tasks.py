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
