"""A Lambda handler whose init registers SnapStart hooks, as sqs_tasks.snapstart does, and
answers with what ran: for tests/infra/test_snapstart.py's local environments."""

import os

from snapshot_restore_py import register_after_restore, register_before_snapshot

RAN: list[tuple[str, int]] = []
INIT_PID = os.getpid()
INITIALIZATION_TYPE = os.environ.get("AWS_LAMBDA_INITIALIZATION_TYPE")


@register_before_snapshot
def before() -> None:
    RAN.append(("before snapshot", os.getpid()))


@register_after_restore
def after() -> None:
    RAN.append(("after restore", os.getpid()))


def handler(event, context):
    return {"ran": RAN, "pid": os.getpid(), "initialization_type": INITIALIZATION_TYPE}
