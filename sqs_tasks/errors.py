"""What an attempt's failure leaves in the result: class path, message and traceback."""

import traceback as tb
from dataclasses import dataclass
from datetime import datetime
from typing import Any

TRACEBACK_LIMIT = 8 * 1024  # keep the tail, where the exception is; items cap at 400 KB
MESSAGE_LIMIT = 1000


def class_path(kind: type) -> str:
    return f"{kind.__module__}.{kind.__qualname__}"


@dataclass(frozen=True, slots=True)
class ErrorRecord:
    exception_class_path: str
    message: str
    traceback: str
    at: datetime

    @classmethod
    def from_exception(cls, error: BaseException, at: datetime) -> "ErrorRecord":
        text = "".join(tb.format_exception(error))
        return cls(
            exception_class_path=class_path(type(error)),
            message=str(error)[:MESSAGE_LIMIT],
            traceback=text[-TRACEBACK_LIMIT:],
            at=at,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "exception_class_path": self.exception_class_path,
            "message": self.message,
            "traceback": self.traceback,
            "at": self.at.isoformat(),
        }
