"""Lambda SnapStart: what must not be frozen into the snapshot, and what a restored
environment must redo.

With SnapStart (template.yaml, Globals) Lambda runs a function's init once per published
version, snapshots the environment's memory, and starts every later cold environment from a
copy of that snapshot, possibly days later and many at once. So:

- Before the snapshot, nothing may hold a socket: a database connection or an HTTP
  connection pool (boto3 clients) would be resumed in every copy, talking on a connection
  the server closed long ago, or the same one from many environments. They are closed and
  dropped; they reopen on first use.
- After a restore, each copy must become itself: `random` is reseeded (otherwise every
  environment restored from one snapshot draws the same retry jitter and the same
  "random" waits), the boto3 session and clients are dropped again (they cached the
  credentials of the environment that made the snapshot), and connections closed.
- The init does the expensive, shareable work so the snapshot holds it (`warm`): Django
  set up, every app's tasks module imported (the worker otherwise imports a task's module
  at its first message), and boto3 with the service models the tasks use loaded.

Apps with state of their own connect to `before_snapshot` / `after_restore`. The hooks come
from the runtime's `snapshot_restore_py` (the python3.12 runtime has it; the package is
never shipped) and run only on Lambda with SnapStart; `stack/local` plays them locally
(snapshot = fork of an initialised process).
"""

import os
import random

from django.db import connections
from django.dispatch import Signal

from sqs_tasks import aws, secrets

before_snapshot = Signal()
after_restore = Signal()

# What Lambda sets during the init of a function that uses SnapStart.
INITIALIZATION_TYPE = "AWS_LAMBDA_INITIALIZATION_TYPE"
SNAP_START = "snap-start"
# The services a task's first attempt calls: the model of each is loaded into the snapshot.
SERVICES = ("sqs", "dynamodb", "s3")


def prepare_snapshot() -> None:
    """Close everything that holds a socket; they reopen on first use."""
    connections.close_all()
    aws.reset_clients()
    secrets.forget()  # no secret's value is frozen into the snapshot
    before_snapshot.send(sender=None)


def restore() -> None:
    """Become one environment of many: fresh randomness, credentials and connections."""
    random.seed()  # from os.urandom: each restored copy gets its own sequence
    aws.reset_clients()
    secrets.forget()
    connections.close_all()
    after_restore.send(sender=None)


def warm() -> None:
    """Do the shareable init now, so the snapshot holds it."""
    from django.utils.module_loading import autodiscover_modules

    autodiscover_modules("tasks")
    for service in SERVICES:
        aws.client(service)  # imports botocore's client code and loads the service's model


def register() -> bool:
    """Hand the hooks to the Lambda runtime, when it has them; warm up too when this init
    ends in a snapshot. Returns whether the hooks were registered."""
    try:
        from snapshot_restore_py import register_after_restore, register_before_snapshot
    except ImportError:  # not on Lambda: nothing is snapshotted
        return False
    register_before_snapshot(prepare_snapshot)
    register_after_restore(restore)
    if os.environ.get(INITIALIZATION_TYPE) == SNAP_START:
        warm()
    return True
