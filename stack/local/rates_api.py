"""A stand-in for the exchange-rates API (RATES_API_URL): a real HTTP server on loopback.

`make run` starts one unless RATES_API_URL is set, so the rates feature works offline
(the real API is out of reach of a laptop on a train, and of CI); the tests start their
own and script its answers (429s, 5xx, slow replies), so the client's urllib code,
timeouts and headers are exercised for real. It answers as the real one does:
`GET <path>?base=EUR` -> `{"amount": 1.0, "base": "EUR", "date": ..., "rates": {...}}`.

It lives under stack/, which neither the Lambda artifact nor the web package ships.
"""

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

# What one euro buys: the tests' default, small enough to assert on whole.
EURO_RATES = {"USD": 1.0825, "GBP": 0.8571}
# The local system's: enough currencies to try any of them as the base.
LOCAL_EURO_RATES = {
    "USD": 1.0825,
    "GBP": 0.8571,
    "JPY": 162.37,
    "CHF": 0.9412,
    "CAD": 1.4768,
    "AUD": 1.6531,
    "SEK": 11.2405,
    "NOK": 11.6610,
    "PLN": 4.2675,
}
DEFAULT_DATE = "2026-01-02"


@dataclass
class Reply:
    """One scripted answer; `body=None` means the rates for the requested base."""

    status: int = 200
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


class RatesApiStandIn:
    """Answers from a script while it lasts (`then(...)`), then with the rates of
    `euro_rates` (what 1 EUR buys) as seen from the requested base."""

    def __init__(
        self,
        *,
        euro_rates: dict[str, float] | None = None,
        as_of: str = DEFAULT_DATE,
        port: int = 0,
        log: Callable[[str], None] | None = None,
    ) -> None:
        self.euro_rates = {"EUR": 1.0, **(euro_rates or EURO_RATES)}
        self.as_of = as_of
        self.log = log
        self.script: list[Reply] = []
        self.paths: list[str] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/latest"

    def then(
        self,
        status: int = 200,
        body: str | bytes | None = None,
        headers: dict[str, str] | None = None,
        delay: float = 0.0,
    ) -> "RatesApiStandIn":
        """Queue the next answer; when the script runs out, every call succeeds."""
        if isinstance(body, str):
            body = body.encode()
        self.script.append(Reply(status=status, body=body, headers=headers or {}, delay=delay))
        return self

    def start(self) -> "RatesApiStandIn":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> "RatesApiStandIn":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def rates_for(self, base: str) -> tuple[int, dict[str, Any]]:
        """The real API's answer for `base`: its rates, or a 404 for an unknown code."""
        if base not in self.euro_rates:
            return 404, {"message": "not found"}
        per_base = self.euro_rates[base]
        rates = {
            currency: round(rate / per_base, 6)
            for currency, rate in sorted(self.euro_rates.items())
            if currency != base
        }
        return 200, {"amount": 1.0, "base": base, "date": self.as_of, "rates": rates}

    def _answer(self, path: str) -> Reply:
        self.paths.append(path)
        reply = self.script.pop(0) if self.script else Reply()
        if reply.body is None:
            base = parse_qs(urlsplit(path).query).get("base", ["EUR"])[0].upper()
            status, payload = self.rates_for(base)
            reply = Reply(
                status=status if reply.status == 200 else reply.status,
                body=json.dumps(payload).encode(),
                headers=reply.headers,
                delay=reply.delay,
            )
        if self.log:
            self.log(f"GET {path} -> {reply.status}")
        return reply

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                reply = api._answer(self.path)
                time.sleep(reply.delay)
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(reply.body or b"")))
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(reply.body or b"")
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client timed out and left

            def log_message(self, format: str, *args: Any) -> None:
                pass  # `log` (when given) says what matters, once per request

        return Handler


def local_rates_api(log: Callable[[str], None], port: int = 0) -> RatesApiStandIn:
    """The stand-in `make run` starts: today's date, a handful of currencies."""
    today = date.today().isoformat()
    return RatesApiStandIn(euro_rates=LOCAL_EURO_RATES, as_of=today, port=port, log=log)


def main() -> None:
    """`python -m stack.local.rates_api --port 8099`: the stand-in on its own, e.g. to bring
    back an API that `RATES_API_URL` pointed the local system at (the runbook's drill)."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m stack.local.rates_api")
    parser.add_argument("--port", type=int, default=8099)
    api = local_rates_api(log=lambda line: print(line, flush=True), port=parser.parse_args().port)
    print(f"exchange-rate API stand-in on {api.url} (Ctrl-C stops it)", flush=True)
    api.start()
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        api.stop()


if __name__ == "__main__":
    main()
