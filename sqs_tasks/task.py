"""The Task class our backend hands to `@task`, and the context a running task receives.

Django passes extra `@task(...)` keywords to the backend's `task_class`, so these fields
are how `max_attempts`, `retry_on` and `timeout` reach the backend (contract 5).
"""

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from django.tasks import Task, TaskContext, TaskResult
from django.tasks.exceptions import InvalidTask

from sqs_tasks import declared

if TYPE_CHECKING:
    from sqs_tasks.workflows.shapes import Map, Step


@dataclass(frozen=True, slots=True, kw_only=True)
class SQSTask(Task):
    max_attempts: int | None = None  # total attempts, the first included
    retry_on: tuple[type[BaseException], ...] | None = None  # None: the backend's default
    timeout: float | None = None  # seconds for one attempt
    # Tasks enqueued with the same key share one id, so only the first is ever sent.
    dedup_key: str | None = None
    # Parameters whose values are kept out of everything stored or logged (sensitive.py).
    sensitive: tuple[str, ...] = ()
    # Concurrency and rate limits, or names of OPTIONS["LIMITS"] (limits/options.py).
    limits: tuple[Any, ...] = ()
    # The tenant on a fair queue: a string, or a function of the call's arguments
    # (e.g. `lambda user_id, *_: user_id`): SQS serves tenants fairly (MessageGroupId).
    message_group: str | Callable[..., Any] | None = None

    def __post_init__(self) -> None:
        Task.__post_init__(self)  # validates with the backend (slots: no zero-arg super)
        declared.declare(self)

    def using(
        self,
        *,
        dedup_key: str | None = None,
        limits: Iterable[Any] | None = None,
        message_group: str | Callable[..., Any] | None = None,
        **changes: Any,
    ) -> "SQSTask":
        """Django's `using()`, plus `dedup_key` for enqueue-once semantics, `limits`,
        and `message_group`."""
        task = Task.using(self, **changes)
        if dedup_key is not None:
            task = replace(task, dedup_key=dedup_key)
        if limits is not None:
            # The worker runs the task as its module declares it: it knows a limit's size
            # from that declaration or from OPTIONS["LIMITS"] by name, never from here.
            module_task = declared.lookup(self.module_path)  # before any using()
            own = (*self.limits, *(getattr(module_task, "limits", ()) or ()))
            for limit in limits:
                if not isinstance(limit, str) and not any(limit is mine for mine in own):
                    raise InvalidTask(
                        f"{self.name}: using(limits=...) takes names of OPTIONS['LIMITS'] "
                        "or the task's own limits; declare a new Concurrency or Rate there"
                    )
            task = replace(task, limits=tuple(limits))
        if message_group is not None:
            task = replace(task, message_group=message_group)
        return task

    def enqueue_many(
        self, calls: Iterable[tuple[Sequence[Any], Mapping[str, Any]]]
    ) -> list[TaskResult]:
        """Enqueue many calls of this task in a few requests: [(args, kwargs), ...]."""
        return self.get_backend().enqueue_many([(self, args, kwargs) for args, kwargs in calls])

    def step(self, *args: Any, **kwargs: Any) -> "Step":
        """One call of this task in a workflow (sqs_tasks.workflows, contract 8)."""
        from sqs_tasks.workflows.shapes import Step

        return Step(self, args, kwargs)

    def map(self, *args: Any, **kwargs: Any) -> "Map":
        """One call per item of the list the previous element returns, in parallel: the
        item first, then these arguments. Its value is the list of the calls' values."""
        from sqs_tasks.workflows.shapes import Map

        return Map(self, args, kwargs)


@dataclass(frozen=True, slots=True, kw_only=True)
class ProgressContext(TaskContext):
    """Django's TaskContext, plus progress a running task can report to its result."""

    reporter: Callable[[int, int | None, str], None] = field(repr=False)

    def report_progress(self, current: int, total: int | None = None, message: str = "") -> None:
        """Store how far the task has got, e.g. `context.report_progress(3, 10, "parsing")`."""
        self.reporter(current, total, message)
