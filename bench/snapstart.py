"""SnapStart: what moves into the snapshot. A restore itself cannot be timed without AWS;
what it saves can: the init that a restored environment no longer runs.

Each run is a fresh process from the Lambda artifact (build/lambda), with Lambda's
environment. Without SnapStart a cold environment runs the init (import the handler:
Django set up, apps loaded) and then, in its first invocation, what the first task needs
(its tasks module, the boto3 clients for SQS, DynamoDB and S3). With SnapStart the init
runs once per published version, with AWS_LAMBDA_INITIALIZATION_TYPE=snap-start, and
warms the rest in (sqs_tasks.snapstart.warm); the snapshot is taken after the
before-snapshot hooks, and each restored environment runs only the after-restore hooks
(reseed, drop the clients and their cached credentials) and then makes its clients again
from the service models the snapshot kept. Times are measured inside the process (from
the handler's import), so the interpreter's own start, which Lambda does in either case,
is left out.
"""

import json
import os
import subprocess
import sys
from dataclasses import dataclass

from bench.cold_start import LAMBDA_DIR, LAMBDA_ENVIRONMENT
from bench.report import table
from bench.stats import Summary

# Run in the child: the phases, timed with perf_counter, printed as JSON.
CHILD = """
import json, os, sys, time
clock = time.perf_counter
started = clock()
import {module}
init = clock() - started
phases = {{"init": init}}
if os.environ.get("AWS_LAMBDA_INITIALIZATION_TYPE") == "snap-start":
    from snapshot_restore_py import get_after_restore, get_before_snapshot
    for hook, args, kwargs in get_before_snapshot():
        hook(*args, **kwargs)
    started = clock()
    for hook, args, kwargs in get_after_restore():
        hook(*args, **kwargs)
    phases["after_restore"] = clock() - started
started = clock()
from django.utils.module_loading import autodiscover_modules
autodiscover_modules("tasks")
from sqs_tasks import aws
for service in ("sqs", "dynamodb", "s3"):
    aws.client(service)
phases["first_use"] = clock() - started
os.write(int(os.environ["BENCH_OUT_FD"]), json.dumps(phases).encode())
"""
FUNCTIONS = {"worker": "functions.worker", "scheduler": "functions.scheduler"}


@dataclass
class Phases:
    init: Summary  # what the snapshot holds, or what every cold start pays
    after_restore: Summary | None  # the hooks a restored environment runs
    first_use: Summary  # tasks module and clients before the first task


@dataclass
class SnapStartResult:
    cold: dict[str, Phases]  # function -> without SnapStart
    restored: dict[str, Phases]  # function -> with SnapStart (init once per version)


def measure(runs: int) -> SnapStartResult:
    samples: dict[tuple[str, bool], list[dict[str, float]]] = {
        (name, snap): [] for name in FUNCTIONS for snap in (False, True)
    }
    for _ in range(runs):
        for (name, snap), found in samples.items():
            found.append(run_child(FUNCTIONS[name], snap))
    return SnapStartResult(
        cold={name: _phases(samples[(name, False)]) for name in FUNCTIONS},
        restored={name: _phases(samples[(name, True)]) for name in FUNCTIONS},
    )


def run_child(module: str, snap_start: bool) -> dict[str, float]:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "DJANGO_", "APP_"))},
        **LAMBDA_ENVIRONMENT,
        # snapshot_restore_py: the runtime provides it; here, from the virtualenv, after
        # the artifact on the path.
        "PYTHONPATH": os.pathsep.join([str(LAMBDA_DIR), *sys.path[1:]]),
        **({"AWS_LAMBDA_INITIALIZATION_TYPE": "snap-start"} if snap_start else {}),
    }
    read, write = os.pipe()
    try:
        process = subprocess.Popen(
            [sys.executable, "-c", CHILD.format(module=module)],
            cwd=LAMBDA_DIR,
            env={**env, "BENCH_OUT_FD": str(write)},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            pass_fds=(write,),
        )
        returncode = process.wait()
        os.close(write)
        out = os.read(read, 4096)
    finally:
        os.close(read)
    if returncode:
        raise RuntimeError(f"SnapStart benchmark of {module} failed ({returncode})")
    return json.loads(out)


def _phases(runs: list[dict[str, float]]) -> Phases:
    restore = [r["after_restore"] for r in runs if "after_restore" in r]
    return Phases(
        init=Summary.of([r["init"] for r in runs]),
        after_restore=Summary.of(restore) if restore else None,
        first_use=Summary.of([r["first_use"] for r in runs]),
    )


def saved_ms(result: SnapStartResult, name: str) -> float:
    """Median milliseconds a restored environment no longer spends before its first task."""
    cold, restored = result.cold[name], result.restored[name]
    before_first_task = cold.init.median + cold.first_use.median
    after_restore = restored.after_restore.median if restored.after_restore else 0.0
    return (before_first_task - after_restore - restored.first_use.median) * 1000


def render(result: SnapStartResult) -> str:
    rows = []
    for name in FUNCTIONS:
        cold, restored = result.cold[name], result.restored[name]
        rows.append(
            (
                name,
                cold.init.format("s", 3),
                cold.first_use.format("s", 3),
                restored.init.format("s", 3),
                restored.after_restore.format("s", 3) if restored.after_restore else "-",
                restored.first_use.format("s", 3),
                f"{saved_ms(result, name):.0f} ms",
            )
        )
    return "\n\n".join(
        [
            "## 14. SnapStart: what moves into the snapshot (issue 18)",
            __doc__.split("\n\n", 1)[0].replace("\n", " ").strip(),
            __doc__.split("\n\n", 1)[1].strip(),
            table(
                (
                    "function",
                    "cold: init",
                    "cold: first use",
                    "snapshot: init (once per version)",
                    "restore: after-restore hooks",
                    "restore: first use",
                    "a restore saves (medians)",
                ),
                rows,
            ),
            "Lambda's own restore of the snapshot comes on top of the restore columns and "
            "cannot be timed without AWS. The init with SnapStart includes the warm-up "
            "(tasks modules, three service models), so it is longer than the cold one; it "
            "is paid once per published version, not per environment.",
        ]
    )
