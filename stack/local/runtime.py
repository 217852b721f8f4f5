"""Warm execution environments for one function, and invocations under its timeout.

Lambda keeps an environment warm between invocations and, when one runs past the
function's timeout, stops it mid-flight and starts a fresh one. So do we: each
environment is a sandbox subprocess; a late one is killed and replaced.
"""

import json
import os
import queue
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from stack.local import logs


class InvocationTimeout(Exception):
    """The function ran past its timeout; its environment was stopped, as Lambda does."""


class EnvironmentDied(Exception):
    """The environment's process ended (a crash, or out of memory)."""


class InvocationError(Exception):
    """The handler raised: the invocation failed, the environment stays warm."""


@dataclass(frozen=True, slots=True)
class FunctionSpec:
    name: str  # e.g. WorkerFunctiondefault
    handler: str  # e.g. functions/worker.handler
    timeout: float
    environment: dict[str, str]
    snap_start: bool = False  # initialised, snapshotted and restored before it serves


class Environment:
    """One warm sandbox process."""

    def __init__(
        self, spec: FunctionSpec, cwd: str, tap: Callable[[str], None] | None = None
    ) -> None:
        self.spec = spec
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "stack.local.sandbox",
                spec.handler,
                spec.name,
                f"{spec.timeout}",
                *(["snap-start"] if spec.snap_start else []),
            ],
            cwd=cwd,
            env={**os.environ, **spec.environment},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            bufsize=1,
        )
        logs.follow(spec.name, self.process.stderr, tap)
        self._answers: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read_answers, daemon=True).start()
        self._await(timeout=60)  # the cold start: imports and django.setup(), any restore

    def _read_answers(self) -> None:
        for line in self.process.stdout:
            self._answers.put(line)
        self._answers.put("")  # closed: the process ended

    def _await(self, timeout: float) -> dict[str, Any]:
        try:
            line = self._answers.get(timeout=timeout)
        except queue.Empty:
            raise InvocationTimeout(f"{self.spec.name} timed out after {timeout:g}s") from None
        if not line:
            raise EnvironmentDied(f"{self.spec.name} exited with {self.process.wait()}")
        return json.loads(line)

    def invoke(self, event: dict[str, Any]) -> Any:
        request = {"event": event, "request_id": str(uuid.uuid4())}
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        answer = self._await(timeout=self.spec.timeout)
        if "error" in answer:
            raise InvocationError(answer["error"])
        return answer["result"]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()


class FunctionRuntime:
    """Up to `concurrency` warm environments of one function."""

    def __init__(
        self,
        spec: FunctionSpec,
        *,
        concurrency: int,
        cwd: str,
        tap: Callable[[str], None] | None = None,
    ) -> None:
        self.spec = spec
        self.cwd = cwd
        self.tap = tap
        self._idle: queue.LifoQueue[Environment | None] = queue.LifoQueue()
        self._all: list[Environment] = []
        self._lock = threading.Lock()
        for _ in range(concurrency):
            self._idle.put(None)  # a slot; the environment starts on first use

    def invoke(self, event: dict[str, Any]) -> Any:
        environment = self._idle.get()  # blocks while `concurrency` invocations run
        try:
            if environment is None:
                environment = Environment(self.spec, self.cwd, self.tap)
                with self._lock:
                    self._all.append(environment)
            return environment.invoke(event)
        except (InvocationTimeout, EnvironmentDied):
            logs.emit(self.spec.name, "environment stopped; the next invocation starts a fresh one")
            if environment is not None:
                environment.stop()
            environment = None
            raise
        finally:
            self._idle.put(environment)

    def stop(self) -> None:
        with self._lock:
            for environment in self._all:
                environment.stop()
