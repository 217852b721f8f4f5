"""The exchange-rate API stand-in (stack/local/rates_api.py) as `make run` and the
runbook's drill use it: answers for any base it knows, a 404 for one it does not."""

import json
import signal
import subprocess
import sys
import time
import urllib.request
from urllib.error import HTTPError

import pytest

from stack.local.rates_api import LOCAL_EURO_RATES, local_rates_api
from tests.local.conftest import ROOT, free_port


def get(url):
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.status, json.loads(response.read())


def test_the_local_stand_in_answers_like_the_real_api_for_any_base():
    lines = []
    with local_rates_api(log=lines.append) as api:
        status, eur = get(f"{api.url}?base=EUR")
        assert status == 200 and eur["base"] == "EUR" and eur["amount"] == 1.0
        assert eur["rates"] == LOCAL_EURO_RATES
        status, usd = get(f"{api.url}?base=USD")
        assert usd["rates"]["EUR"] == pytest.approx(1 / LOCAL_EURO_RATES["USD"], rel=1e-5)
        assert "USD" not in usd["rates"]
        with pytest.raises(HTTPError) as refused:
            get(f"{api.url}?base=XYZ")
        assert refused.value.code == 404
    assert lines == [
        "GET /latest?base=EUR -> 200",
        "GET /latest?base=USD -> 200",
        "GET /latest?base=XYZ -> 404",
    ]


def test_it_runs_on_its_own_and_stops_quietly_on_ctrl_c():
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "stack.local.rates_api", "--port", str(port)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert "stand-in on" in process.stdout.readline()
        deadline = time.monotonic() + 10
        while True:
            try:
                assert get(f"http://127.0.0.1:{port}/latest?base=GBP")[1]["base"] == "GBP"
                break
            except OSError:
                assert time.monotonic() < deadline
                time.sleep(0.1)
        process.send_signal(signal.SIGINT)
        output = process.communicate(timeout=10)[0]
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0 and "Traceback" not in output, output
    assert "GET /latest?base=GBP -> 200" in output
