"""Start the local system the way `make run` does, in a subprocess, and stop it after."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def descendants(pid: int) -> set[int]:
    """Every process below pid, read from /proc (no extra dependency)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


class RunningSystem:
    """`make run` in a subprocess, in a session of its own: `stop()` sends Ctrl-C to its
    whole process group, as a terminal does. With no RATES_API_URL it runs its own
    stand-in for the exchange-rate API, as `make run` does."""

    def __init__(
        self,
        root: Path,
        run: int = 1,
        ports: tuple[int, int] | None = None,
        task_modules: tuple[str, ...] = (),
    ) -> None:
        self.root = root
        self.aws_port, self.web_port = ports or (free_port(), free_port())
        self.log_path = root / f"stack-{run}.log"
        self.log = self.log_path.open("w+")
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("AWS_", "DJANGO_", "APP_", "DATABASE_", "RATES_API_"))
        }
        # The tests' own tasks (and the caller's: the benchmarks'), which workers may run
        # beside the app's.
        env["SQS_TASKS_MODULES"] = ",".join(("tests.sample_tasks", *task_modules))
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "stack.local",
                "--dir",
                str(root),
                "--aws-port",
                str(self.aws_port),
                "--web-port",
                str(self.web_port),
            ],
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.aws_port}"

    def output(self) -> str:
        if not self.log.closed:
            self.log.flush()
        return self.log_path.read_text()

    def wait_until_ready(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the local system exited:\n{self.output()}")
            if "ready: http" in self.output() and self._web_answers():
                return
            time.sleep(0.5)
        raise TimeoutError(f"the local system did not start:\n{self.output()}")

    def _web_answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.web_port), timeout=1):
                return True
        except OSError:
            return False

    def state(self) -> dict:
        return json.loads((self.root / "state.json").read_text())

    def stop(self) -> set[int]:
        """Ctrl-C in its terminal: SIGINT to every process of the group. Returns the
        processes it had started."""
        started = descendants(self.process.pid)
        os.killpg(self.process.pid, signal.SIGINT)
        try:
            self.process.wait(timeout=30)
        finally:
            if self.process.poll() is None:
                self.process.kill()
        self.log.close()
        return started


@pytest.fixture(scope="session")
def local_systems(tmp_path_factory):
    """The local system, shared by every test here: a start costs 15-20 s. It starts on
    first use and again after a test has stopped it (the shutdown test does), so test
    order changes only how many starts a run pays for, never what a test gets. A start
    that fails fails every later test at once, instead of costing each its own timeout."""
    started: list[RunningSystem] = []
    failed: list[BaseException] = []

    def start(root: Path, run: int = 1, ports: tuple[int, int] | None = None) -> RunningSystem:
        system = RunningSystem(root, run, ports)
        started.append(system)
        try:
            system.wait_until_ready()
        except BaseException as error:
            failed.append(error)
            system.stop()
            raise
        return system

    def running(*, restart: bool = False) -> RunningSystem:
        """The running system; with `restart`, stopped and started again as a user would:
        on the same folder (database, secret key, admin password and outbox kept) and the
        same ports (`make run`'s are fixed, and emailed links name the web port)."""
        if failed:
            raise RuntimeError("the local system failed to start (see the first error)")
        if restart and started and started[-1].process.poll() is None:
            previous = started[-1]
            previous.stop()
            ports = (previous.aws_port, previous.web_port)
            return start(previous.root, run=len(started) + 1, ports=ports)
        if not started or started[-1].process.poll() is not None:
            return start(tmp_path_factory.mktemp("local-stack"))
        return started[-1]

    yield running
    for system in started:
        if system.process.poll() is None:
            system.stop()


@pytest.fixture
def local_system(local_systems):
    return local_systems()
