"""Cold start: a fresh process getting ready to run a task, beside the floor of
`import boto3, django; django.setup()` with the same settings, from the same package.

Worker: from the Lambda artifact (`make lambda-artifact`, build/lambda: unchecked-hash
bytecode), import `functions.worker` (which runs django.setup()) and construct the backend
the handler serves; no AWS call. Web: from Zappa's package (`make web-package`, unzipped to
a temporary directory), import Zappa's `handler` and construct its `LambdaHandler`, which
loads zappa_settings and builds Django's WSGI app. boto3 comes from the virtualenv, as the
Lambda runtime provides it. Wall time covers interpreter start to exit; peak memory is the
child's ru_maxrss. Variants run interleaved, so load on the machine hits each alike.
"""

import os
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from bench.report import table
from bench.stats import Summary, ratio

ROOT = Path(__file__).resolve().parent.parent
LAMBDA_DIR = ROOT / "build" / "lambda"
WEB_ZIP = ROOT / "build" / "web-dev.zip"

GOAL = 1.15  # worker / baseline (issue 8)
BASELINE = "import boto3, django; django.setup()"
WORKER = (
    "import functions.worker\n"
    "from sqs_tasks.worker.batch import backend_for_worker\n"
    "backend_for_worker()"
)
CLIENTS = "\nfrom sqs_tasks import aws\naws.client('sqs'); aws.client('dynamodb')"
WEB = "import handler\nhandler.LambdaHandler()"

# What Lambda and template.yaml set for a worker, with no AWS behind it.
LAMBDA_ENVIRONMENT = {
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "AWS_LAMBDA_FUNCTION_NAME": "app-dev-worker-default",
    "DJANGO_SETTINGS_MODULE": "django_app.settings",
    "APP_NAME": "app",
    "APP_STAGE": "dev",
    "TASK_QUEUES": "default,heavy",  # template.yaml sets it; no template in a package
    "DJANGO_ALLOWED_HOSTS": "abcdefghij.execute-api.us-east-1.amazonaws.com",  # the stage's
    "LOG_LEVEL": "INFO",
    # On AWS the secret is resolved by CloudFormation (workers) or read from Secrets
    # Manager (web, DJANGO_SECRET_ID: one AWS call per cold start, not timed here).
    "DJANGO_SECRET_KEY": "bench-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz",
    "PYTHONDONTWRITEBYTECODE": "1",  # as on Lambda's read-only /var/task
}


@dataclass
class Run:
    seconds: Summary
    peak_mb: Summary


@dataclass
class ColdStart:
    runs: dict[str, Run]  # variant -> timings
    worker_ratio: Summary  # worker / baseline, run by run
    worker_clients_ratio: Summary  # both with the two clients the first task needs
    web_ratio: Summary


def measure(runs: int) -> ColdStart:
    with unpacked_web_package() as web_dir:
        variants = {
            "baseline (worker package)": (LAMBDA_DIR, BASELINE),
            "worker: import + backend": (LAMBDA_DIR, WORKER),
            "baseline + 2 boto3 clients": (LAMBDA_DIR, BASELINE + CLIENTS),
            "worker + 2 boto3 clients (sqs, dynamodb)": (LAMBDA_DIR, WORKER + CLIENTS),
            "baseline (web package)": (web_dir, BASELINE),
            "web: Zappa handler + Django WSGI app": (web_dir, WEB),
        }
        samples: dict[str, list[tuple[float, float]]] = {name: [] for name in variants}
        for where, code in variants.values():
            time_child(where, code)  # warm the page cache once; not counted
        for _ in range(runs):
            for name, (where, code) in variants.items():
                samples[name].append(time_child(where, code))
    results = {
        name: Run(Summary.of([s for s, _ in pairs]), Summary.of([m for _, m in pairs]))
        for name, pairs in samples.items()
    }
    return ColdStart(
        runs=results,
        worker_ratio=ratio(
            results["worker: import + backend"].seconds,
            results["baseline (worker package)"].seconds,
        ),
        worker_clients_ratio=ratio(
            results["worker + 2 boto3 clients (sqs, dynamodb)"].seconds,
            results["baseline + 2 boto3 clients"].seconds,
        ),
        web_ratio=ratio(
            results["web: Zappa handler + Django WSGI app"].seconds,
            results["baseline (web package)"].seconds,
        ),
    )


# The child reports its own peak resident set (VmHWM). ru_maxrss from wait4() would not do:
# Linux carries it across exec, so it starts at this large process's size at the fork.
REPORT_PEAK = (
    "\nimport os; os.write(int(os.environ['BENCH_PEAK_FD']), "
    "open('/proc/self/status').read().split('VmHWM:')[1].split()[0].encode())"
)


def time_child(where: Path, code: str) -> tuple[float, float]:
    """(wall seconds, peak MB) of `python -c code` run from `where`."""
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "DJANGO_", "APP_"))},
        **LAMBDA_ENVIRONMENT,
        "PYTHONPATH": str(where),
    }
    read, write = os.pipe()
    try:
        started = time.perf_counter()
        process = subprocess.Popen(
            [sys.executable, "-c", code + REPORT_PEAK],
            cwd=where,
            env={**env, "BENCH_PEAK_FD": str(write)},
            stdout=subprocess.DEVNULL,
            pass_fds=(write,),
        )
        returncode = process.wait()
        elapsed = time.perf_counter() - started
        os.close(write)
        peak_kb = os.read(read, 64)
    finally:
        os.close(read)
    if returncode:
        raise RuntimeError(f"cold start of {code!r} in {where} failed ({returncode})")
    return elapsed, int(peak_kb) / 1024


@contextmanager
def unpacked_web_package() -> Iterator[Path]:
    """Zappa's package unzipped, as Lambda unpacks it into /var/task."""
    with tempfile.TemporaryDirectory(prefix="bench-web-") as scratch:
        with zipfile.ZipFile(WEB_ZIP) as archive:
            archive.extractall(scratch)
        yield Path(scratch)


def render(result: ColdStart) -> str:
    rows = [
        (name, run.seconds.format("s", 3), run.peak_mb.format("MB", 0))
        for name, run in result.runs.items()
    ]
    ratios = table(
        ("ratio (run by run)", "median (range)", f"goal ≤ {GOAL}"),
        [
            (
                "worker / baseline",
                result.worker_ratio.format("x", 2),
                _verdict(result.worker_ratio),
            ),
            (
                "worker + clients / baseline + clients",
                result.worker_clients_ratio.format("x", 2),
                _verdict(result.worker_clients_ratio),
            ),
            ("web (Zappa) / baseline", result.web_ratio.format("x", 2), _verdict(result.web_ratio)),
        ],
    )
    return "\n\n".join(
        [
            "## 3. Cold start",
            __doc__.split("\n\n", 1)[1].strip(),
            f"The baseline is `{BASELINE}` with the same settings and environment, run from the "
            "same package. Wall time from process start to exit, and the child's peak memory "
            "(ru_maxrss):",
            table(("variant", "wall time", "peak memory"), rows),
            ratios,
            "Creating the first boto3 clients is not counted in the plain variants (the "
            "baseline makes none); the `+ clients` rows add the two a task needs (SQS for "
            "dead letters and retries, DynamoDB for claim and finish), created on first use. "
            "On AWS the web stage also reads its secret key from Secrets Manager once per cold "
            "start (DJANGO_SECRET_ID), which no row here times.",
        ]
    )


def _verdict(value: Summary) -> str:
    return "meets" if value.median <= GOAL else "**misses**"
