"""Starting and stopping the local system, in order, and what the other commands need
to know about a running one (state.json)."""

import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
import warnings
from dataclasses import asdict, dataclass, field
from typing import Any

import boto3
from moto.server import ThreadedMotoServer

from stack import emulator_dynamodb
from stack.local import logs, metrics, topology
from stack.local.environment import (
    LOCAL_SENDER,
    PARAMETERS,
    REGION,
    Paths,
    local_environment,
    process_environment,
    running_ports,
)
from stack.local.outbox import Outbox
from stack.local.pollers import Poller
from stack.local.rates_api import local_rates_api
from stack.local.runtime import FunctionRuntime
from stack.local.schedules import ScheduleClock
from stack.local.web import manage, serve
from stack.sam import deploy, stack_name
from stack.template import ROOT


def quiet_emulator() -> None:
    """The emulator's request log and its notes on resources it skips (alarms, queue
    policies) would drown the app's own lines."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    logging.getLogger("moto").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", module="moto")


def detach_moto_lambda_runner() -> None:
    """moto answers a send to a mapped queue by receiving the batch itself and running the
    function in Docker, which is not here: the batch would just vanish from sight for a
    visibility timeout. Our pollers take its place, so unhook it (the emulator is in this
    process). The mappings stay readable through the Lambda API."""
    from moto.sqs.models import sqs_backends

    for account in sqs_backends.values():
        for backend in account.values():
            for queue in backend.queues.values():
                queue.lambda_event_source_mappings.clear()


def run_manage(paths: Paths, args: list[str]) -> int:
    """`manage.py <args>` against the running local system (e.g. tasks_failed)."""
    ports = running_ports(paths)
    if ports is None:
        sys.exit("The local system is not running: start it with `make run`.")
    command = [sys.executable, "manage.py", *args]
    return subprocess.run(command, env=process_environment(paths, *ports), cwd=ROOT).returncode


@dataclass
class LocalSystem:
    paths: Paths
    aws_port: int
    web_port: int
    _parts: list[Any] = field(default_factory=list)
    _stopped: threading.Event = field(default_factory=threading.Event)

    def start(self) -> None:
        quiet_emulator()
        emulator_dynamodb.install()
        self.paths.root.mkdir(parents=True, exist_ok=True)
        env = local_environment(self.paths, self.aws_port, self.web_port)
        os.environ.update(env)

        emulator = ThreadedMotoServer(ip_address="127.0.0.1", port=self.aws_port, verbose=False)
        emulator.start()
        self._parts.append(emulator)
        endpoint = env["AWS_ENDPOINT_URL"]
        logs.emit("aws", f"emulator (moto) on {endpoint}")
        self._start_rates_api()

        logs.emit("aws", "deploying template.yaml into the emulator (translated offline)")
        session = boto3.session.Session(region_name=REGION)
        outputs = deploy(session, parameters=PARAMETERS, endpoint_url=endpoint)
        logs.emit("aws", f"template.yaml deployed: {len(outputs)} outputs")
        cloudformation = session.client("cloudformation", endpoint_url=endpoint)
        stack = stack_name(PARAMETERS)
        translated = cloudformation.get_template(StackName=stack)["TemplateBody"]
        if isinstance(translated, str):
            translated = json.loads(translated)
        physical = {
            r["LogicalResourceId"]: r.get("PhysicalResourceId", "")
            for page in cloudformation.get_paginator("list_stack_resources").paginate(
                StackName=stack
            )
            for r in page["StackResourceSummaries"]
        }
        detach_moto_lambda_runner()
        # SES sends only from verified identities (docs/deploy.md: verify yours on AWS).
        session.client("ses", endpoint_url=endpoint).verify_email_identity(
            EmailAddress=LOCAL_SENDER
        )
        snap_start = topology.snap_start_functions(translated, physical)
        functions = topology.functions(session, endpoint, env, snap_start)
        mappings = topology.queue_mappings(session, endpoint, functions)
        schedules = topology.schedules(translated, physical, functions)

        web_env = process_environment(self.paths, self.aws_port, self.web_port)
        logs.emit("local", f"migrating the database ({env['DATABASE_URL']})")
        manage("migrate", "--noinput", "-v", "0", env=web_env)
        logs.emit("local", "collecting static files")
        manage("collectstatic", "--noinput", "-v", "0", env=web_env)
        admin = manage(
            "ensure_admin",
            env={**web_env, "DJANGO_SUPERUSER_PASSWORD": self.paths.admin_password()},
        )
        logs.emit("local", f"{admin.strip()}  (kept in {self.paths.root / 'admin-password'})")
        # The emulator starts empty but the cache (in the database) is kept: the staff
        # overview must count this run's tasks from the first page on, not the last run's.
        logs.emit("local", manage("refresh_task_overview", env=web_env).strip())

        # The functions' EMF lines become metrics in the emulator, as CloudWatch does.
        tap = metrics.Publisher(session.client("cloudwatch", endpoint_url=endpoint))
        runtimes = {
            spec.name: FunctionRuntime(
                spec, concurrency=self._concurrency(spec, mappings), cwd=str(ROOT), tap=tap
            )
            for spec in functions.values()
        }
        self._parts += runtimes.values()
        sqs = session.client("sqs", endpoint_url=endpoint)
        for mapping in mappings:
            poller = Poller(mapping, runtimes[mapping.function.name], sqs, REGION)
            poller.start()
            self._parts.append(poller)
            logs.emit(
                poller.source,
                f"-> {mapping.function.name} ({mapping.function.handler}), batch "
                f"{mapping.batch_size}, window {mapping.batching_window:g}s, "
                f"concurrency {mapping.max_concurrency}, timeout {mapping.function.timeout:g}s",
            )
        clock = ScheduleClock(schedules, runtimes)
        clock.start()
        outbox = Outbox(self.paths.outbox)
        outbox.start()
        web_lambda = {"AWS_LAMBDA_FUNCTION_NAME": PARAMETERS["AppName"] + "-" + PARAMETERS["Stage"]}
        logs.emit("local", f"starting the web app on http://127.0.0.1:{self.web_port}")
        self._parts += [
            clock,
            outbox,
            _Process(serve(self.web_port, {**web_env, **web_lambda}, tap=tap)),
        ]
        self.paths.state.write_text(
            json.dumps(
                {
                    "endpoint": endpoint,
                    "web": f"http://127.0.0.1:{self.web_port}",
                    "pid": os.getpid(),
                    "schedules": [asdict(s) for s in schedules],
                },
                indent=2,
            )
        )
        web = f"http://127.0.0.1:{self.web_port}"
        logs.emit("local", f"ready: {web}/  emails: {web}/outbox/  (Ctrl-C stops everything)")

    def _start_rates_api(self) -> None:
        """The exchange-rate API the rates feature calls: the real one when RATES_API_URL
        names it, else a local stand-in (the real one is out of reach offline)."""
        if url := os.environ.get("RATES_API_URL"):
            logs.emit("rates-api", f"RATES_API_URL is set: the workers call {url}")
            return
        api = local_rates_api(log=lambda line: logs.emit("rates-api", line)).start()
        self._parts.append(api)
        os.environ["RATES_API_URL"] = api.url  # every process started from here on
        logs.emit(
            "rates-api",
            f"local stand-in for the exchange-rate API on {api.url} "
            "(set RATES_API_URL to call a real one)",
        )

    @staticmethod
    def _concurrency(spec: Any, mappings: list[topology.QueueMapping]) -> int:
        return max([m.max_concurrency for m in mappings if m.function.name == spec.name] or [1])

    def wait(self) -> None:
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: self._stopped.set())
        self._stopped.wait()

    def stop(self) -> None:
        # A second Ctrl-C would only interrupt the stopping half-way, and leave processes.
        signal.signal(signal.SIGINT, lambda *_: logs.emit("local", "still stopping"))
        logs.emit("local", "stopping")
        for part in reversed(self._parts):
            started = time.monotonic()
            part.stop()
            if (took := time.monotonic() - started) > 2:
                logs.emit("local", f"{type(part).__name__} took {took:.0f}s to stop")
        self.paths.state.unlink(missing_ok=True)
        logs.emit("local", "stopped")


@dataclass
class _Process:
    process: subprocess.Popen

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def fire_now(paths: Paths, name: str) -> Any:
    """Fire one schedule of the running system at once, as its rule would."""
    from datetime import UTC, datetime

    from stack.local.runtime import FunctionSpec
    from stack.local.sandbox import load
    from stack.local.schedules import scheduled_time

    if not paths.state.exists():
        sys.exit("The local system is not running: start it with `make run`.")
    state = json.loads(paths.state.read_text())
    known = {s["name"]: s for s in state["schedules"]}
    if name not in known:
        sys.exit(f"No schedule {name!r}. Known: {', '.join(sorted(known)) or '(none)'}")
    entry = known[name]
    schedule = topology.Schedule(**{**entry, "function": FunctionSpec(**entry["function"])})
    os.environ.update(schedule.function.environment)
    return load(schedule.function.handler)(schedule.event(scheduled_time(datetime.now(UTC))), None)
