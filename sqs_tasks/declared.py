"""The tasks this code base declares, by module path: the only tasks a message may name.

A message names its task by module path. Resolving that path with an import would let a
signed message import any module before it is found not to be a task; looking it up here
imports nothing but the installed apps' `tasks` modules, where Django's convention puts
tasks, and the modules the SQS_TASKS_MODULES setting lists for tasks declared elsewhere
(once, on the first miss). Every `@task` of the SQS backend registers itself.
"""

import importlib
import threading

from django.conf import settings
from django.tasks import Task
from django.utils.module_loading import autodiscover_modules

_tasks: dict[str, Task] = {}
_lock = threading.Lock()
_discovered = False


def declare(task: Task) -> None:
    """Record a task; the first declaration of a path wins (`using()` makes copies)."""
    _tasks.setdefault(task.module_path, task)


def lookup(path: str) -> Task | None:
    global _discovered
    if path not in _tasks and not _discovered:
        with _lock:
            if not _discovered:
                autodiscover_modules("tasks")
                for module in getattr(settings, "SQS_TASKS_MODULES", ()):
                    importlib.import_module(module)
                _discovered = True
    return _tasks.get(path)
