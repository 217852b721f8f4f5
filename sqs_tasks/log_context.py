"""Fields every log line carries while they are bound: the task id during an attempt,
the web request id while a request enqueues. A logging filter copies them onto records,
and the JSON formatter writes them out, so one task's lines can be found together."""

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

_fields: ContextVar[dict[str, Any]] = ContextVar("sqs_tasks_log_fields", default={})  # noqa: B039


@contextmanager
def bound(**fields: Any) -> Iterator[None]:
    token = _fields.set({**_fields.get(), **fields})
    try:
        yield
    finally:
        _fields.reset(token)


def current(name: str) -> Any:
    return _fields.get().get(name)


class ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        for name, value in _fields.get().items():
            if not hasattr(record, name):
                setattr(record, name, value)
        return True
