"""The no-op task under each flow-control option, for bench/flow_control.py. Limits are
sized never to be reached: what is measured is the price of the option itself."""

from django.tasks import task

from sqs_tasks.limits import Concurrency, Rate


@task
def plain(n: int) -> None:
    return None


@task(limits=[Rate(100_000, per="second", name="bench-rate")])
def rated(n: int) -> None:
    return None


KEYS = 10  # the concurrency keys `keyed` spreads its calls over


@task(limits=[Concurrency(1_000, key=lambda n: n % KEYS, name="bench-slots")])
def keyed(n: int) -> None:
    return None


@task(message_group=lambda n: f"tenant-{n % 10}")
def grouped(n: int) -> None:
    return None
