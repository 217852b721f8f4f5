"""Issue 5: the local system, started as `make run` starts it, used, and stopped."""

import json
import os
import re
import subprocess
import sys
import time
import urllib.request

import pytest

from tests.local.conftest import ROOT, alive
from tests.local.web_client import WebClient

pytestmark = pytest.mark.slow


def local(system, *args: str) -> str:
    process = subprocess.run(
        [sys.executable, "-m", "stack.local", "--dir", str(system.root), *args],
        cwd=ROOT,
        env={**os.environ, "SQS_TASKS_MODULES": "tests.sample_tasks"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert process.returncode == 0, process.stdout + process.stderr
    return process.stdout


def task_state(system, task_id: str) -> dict:
    return json.loads(local(system, "manage", "tasks_show", task_id, "--json"))


def wait_for(system, task_id: str, status: str, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = task_state(system, task_id)
        if state["result"]["status"] == status:
            return state
        time.sleep(0.5)
    raise AssertionError(f"{task_id} never reached {status}: {state}\n{system.output()[-3000:]}")


def test_the_web_app_answers(local_system):
    with urllib.request.urlopen(f"{local_system.url}/accounts/login/", timeout=10) as response:
        assert response.status == 200
        assert response.headers["X-Request-ID"]


def test_a_task_runs_through_the_poller_and_the_real_handler(local_system):
    task_id = local(
        local_system, "manage", "tasks_enqueue", "tests.sample_tasks.add", "--args", "[20, 22]"
    ).strip()
    state = wait_for(local_system, task_id, "SUCCESSFUL")
    assert state["result"]["return_value"] == 42
    assert "[app-dev-worker-default]" in local_system.output()


def test_a_failing_task_ends_in_the_dead_letter_queue(local_system):
    task_id = local(
        local_system, "manage", "tasks_enqueue", "tests.sample_tasks.fails_with_value_error"
    ).strip()
    wait_for(local_system, task_id, "FAILED")
    deadline = time.monotonic() + 20
    while not (letters := task_state(local_system, task_id)["dead_letters"]):
        assert time.monotonic() < deadline, "no dead letter"
        time.sleep(0.5)
    assert letters[0]["exception_class"] == "builtins.ValueError"


def test_a_fired_schedule_runs_its_job(local_system):
    names = [s["name"] for s in local_system.state()["schedules"]]
    assert names, "template.yaml declares no schedules"
    answer = json.loads(local(local_system, "fire", "queue-health").splitlines()[-1])
    assert answer["status"] == "enqueued"
    wait_for(local_system, answer["task_id"], "SUCCESSFUL")


def test_unknown_schedule_is_refused(local_system):
    process = subprocess.run(
        [sys.executable, "-m", "stack.local", "--dir", str(local_system.root), "fire", "nope"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert process.returncode != 0 and "No schedule 'nope'" in process.stderr


def test_a_task_enqueued_through_the_web_app_reads_back_over_http(local_system):
    browser = WebClient(local_system.url)
    browser.submit(
        "/accounts/signup/",
        {
            "username": "ada",
            "email": "ada@example.com",
            "password1": "an-Unusual-pass-42",
            "password2": "an-Unusual-pass-42",
        },
    )
    page = browser.submit("/rates/", {"base": "EUR"})  # "Refresh exchange rates"
    status_url = re.search(r'data-status-url="([^"]+)"', page)[1]
    deadline = time.monotonic() + 60
    while (status := json.loads(browser.get(status_url)))["status"] != "SUCCESSFUL":
        assert status["status"] != "FAILED", status
        assert time.monotonic() < deadline, f"{status}\n{local_system.output()[-3000:]}"
        time.sleep(0.5)
    assert "USD" in browser.get("/rates/?base=EUR")
    # No RATES_API_URL: the worker called the local stand-in, never the real API.
    assert "[rates-api] local stand-in for the exchange-rate API" in local_system.output()
    assert "[rates-api] GET /latest?base=EUR -> 200" in local_system.output()


def test_plain_manage_py_works_against_the_running_system(local_system):
    """The runbook's commands, as typed on a checkout with `make run` running."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AWS_", "DJANGO_", "APP_", "DATABASE_"))
    }
    process = subprocess.run(
        [sys.executable, "manage.py", "tasks_failed", "--json"],
        cwd=ROOT,
        env={**env, "LOCAL_STACK_DIR": str(local_system.root)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert process.returncode == 0, process.stderr
    assert isinstance(json.loads(process.stdout), list)
    assert "using the local system running from" in process.stderr


def test_ctrl_c_stops_everything_quietly(local_system):
    """Ctrl-C reaches every process of the terminal's group: the warm workers too (the
    tests above warmed them), which printed a KeyboardInterrupt traceback each."""
    started = local_system.stop()
    output = local_system.output()
    assert local_system.process.returncode == 0, output[-2000:]
    assert started, "the system had started no processes?"
    assert not [pid for pid in started if alive(pid)]
    assert "[local] stopped" in output
    assert "Traceback" not in output and "KeyboardInterrupt" not in output, output[-3000:]
