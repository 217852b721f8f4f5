"""What an attempt's failure leaves in the result: class path, message and traceback."""

import traceback as tb
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any

import django.tasks

TRACEBACK_LIMIT = 8 * 1024  # keep the tail, where the exception is; items cap at 400 KB
MESSAGE_LIMIT = 1000


# Frames of the machinery that calls a task: an operator reading a traceback wants it to
# start at the task's own code.
_MACHINERY = (
    str(Path(__file__).resolve().parent / "runner"),
    str(Path(django.tasks.__file__).resolve().parent),
)


def _task_frames(error: BaseException) -> TracebackType | None:
    frames = error.__traceback__
    while frames is not None and frames.tb_next is not None:
        if not frames.tb_frame.f_code.co_filename.startswith(_MACHINERY):
            break
        frames = frames.tb_next
    return frames


def class_path(kind: type) -> str:
    return f"{kind.__module__}.{kind.__qualname__}"


@dataclass(frozen=True, slots=True)
class ErrorRecord:
    exception_class_path: str
    message: str
    traceback: str
    at: datetime

    @classmethod
    def from_exception(
        cls, error: BaseException, at: datetime, scrub: Callable[[str], str] = str
    ) -> "ErrorRecord":
        """The record of `error`; `scrub` cleans its text whole, before it is cut to size
        (a secret cut in half by the limit would no longer be found)."""
        text = "".join(tb.format_exception(type(error), error, _task_frames(error)))
        return cls(
            exception_class_path=class_path(type(error)),
            message=scrub(str(error))[:MESSAGE_LIMIT],
            traceback=scrub(text)[-TRACEBACK_LIMIT:],
            at=at,
        )

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ErrorRecord":
        return cls(
            exception_class_path=data["exception_class_path"],
            message=data.get("message", ""),
            traceback=data.get("traceback", ""),
            at=datetime.fromisoformat(data["at"]),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "exception_class_path": self.exception_class_path,
            "message": self.message,
            "traceback": self.traceback,
            "at": self.at.isoformat(),
        }
