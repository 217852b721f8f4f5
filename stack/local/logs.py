"""Every part's log lines in one terminal, each tagged with its source."""

import sys
import threading
from collections.abc import Callable, Iterable
from typing import TextIO

_lock = threading.Lock()
_COLOURS = ["36", "32", "35", "33", "34", "31", "96", "92"]
_assigned: dict[str, str] = {}


def emit(source: str, line: str, stream: TextIO | None = None) -> None:
    stream = stream or sys.stdout
    with _lock:
        colour = _assigned.setdefault(source, _COLOURS[len(_assigned) % len(_COLOURS)])
        tag = f"\033[{colour}m[{source}]\033[0m" if stream.isatty() else f"[{source}]"
        stream.write(f"{tag} {line.rstrip()}\n")
        stream.flush()


def follow(
    source: str, lines: Iterable[str], tap: Callable[[str], None] | None = None
) -> threading.Thread:
    """Copy a process's output lines into the terminal, tagged, until it closes; `tap`
    sees each line first (the metrics of EMF lines: stack/local/metrics.py)."""

    def pump() -> None:
        for line in lines:
            if tap is not None:
                tap(line)
            emit(source, line)

    thread = threading.Thread(target=pump, name=f"log-{source}", daemon=True)
    thread.start()
    return thread
