"""A stand-in for the exchange-rates API: a real HTTP server on loopback that answers
from a script, so the client's urllib code, timeouts and headers are all exercised."""

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

RATES = {"base": "EUR", "date": "2026-01-02", "rates": {"USD": 1.0825, "GBP": 0.8571}}


@dataclass
class Reply:
    status: int = 200
    body: bytes = field(default_factory=lambda: json.dumps(RATES).encode())
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


class FakeApi:
    def __init__(self):
        self.script: list[Reply] = []
        self.paths: list[str] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def url(self):
        host, port = self._server.server_address
        return f"http://{host}:{port}/latest"

    def then(self, status=200, body=None, headers=None, delay=0.0):
        """Queue the next answer; when the script runs out, every call succeeds."""
        reply = Reply(status=status, headers=headers or {}, delay=delay)
        if body is not None:
            reply.body = body if isinstance(body, bytes) else body.encode()
        self.script.append(reply)
        return self

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def _next(self, path):
        self.paths.append(path)
        return self.script.pop(0) if self.script else Reply()

    def _handler(self):
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                reply = api._next(self.path)
                time.sleep(reply.delay)
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(reply.body)))
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(reply.body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client timed out and left

            def log_message(self, format, *args):
                pass

        return Handler
