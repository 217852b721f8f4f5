"""SnapStart played in a local execution environment: after its init, the hooks the code
registered run as Lambda runs them, before-snapshot then after-restore, and only then does
the environment serve; so `make run` and the local tests exercise sqs_tasks.snapstart.

Lambda fails a restore whose after-restore hooks take over 10 s; so does this. (That
copies restored from one snapshot come out different is tests/infra/test_snapstart.py's.)
"""

import sys
import time
from collections.abc import Callable, Iterable
from typing import Any

AFTER_RESTORE_LIMIT = 10.0  # seconds Lambda gives the after-restore hooks


class RestoreTimeout(Exception):
    """The after-restore hooks ran past Lambda's limit: the restore fails."""


def snapshot_and_restore(say: Callable[[str], None] = print) -> tuple[int, int]:
    """Run the registered hooks around a notional snapshot; returns how many ran of each."""
    from snapshot_restore_py import get_after_restore, get_before_snapshot

    before, after = list(get_before_snapshot()), list(get_after_restore())
    _run(before)
    started = time.monotonic()
    _run(after)
    took = time.monotonic() - started
    if took > AFTER_RESTORE_LIMIT:
        raise RestoreTimeout(f"after-restore hooks took {took:.1f}s (Lambda allows 10)")
    say(
        f"SnapStart: snapshot after init ({len(before)} before-snapshot hooks), restored "
        f"({len(after)} after-restore hooks, {took * 1000:.0f} ms)"
    )
    return len(before), len(after)


def _run(hooks: Iterable[tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any]]]) -> None:
    for hook, args, kwargs in hooks:
        hook(*args, **kwargs)


def log_line(line: str) -> None:
    print(line, file=sys.stderr, flush=True)
