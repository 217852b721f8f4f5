"""An embedded moto server that counts the requests it receives, by service and operation.

For processes whose requests botocore hooks cannot see: Celery's worker polls SQS
through kombu's own HTTP client (pycurl), signing with botocore but sending itself. The
server reads what every AWS SDK sends: the SigV4 credential scope names the service, and
`X-Amz-Target` (JSON protocols) or `Action` (query protocol) names the operation.
"""

import io
import json
import logging
from typing import Any
from urllib.parse import parse_qs

from moto.moto_server.threaded_moto_server import ThreadedMotoServer

from bench.counting import RequestCounter


class CountingMotoServer(ThreadedMotoServer):
    def __init__(self, counter: RequestCounter, port: int) -> None:
        super().__init__(ip_address="127.0.0.1", port=port, verbose=False)
        self.counter = counter
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # a line per request

    def _server_entry(self) -> None:
        """ThreadedMotoServer's, with the app wrapped (moto has no hook for it)."""
        from moto.moto_server.werkzeug_app import (
            DomainDispatcherApplication,
            MotoRequestHandler,
            create_backend_app,
        )
        from werkzeug.serving import make_server

        app = _Counting(DomainDispatcherApplication(create_backend_app), self.counter)
        self._server = make_server(
            self._ip_address, self._port, app, True, request_handler=MotoRequestHandler
        )
        self._server_ready_event.set()
        self._server.serve_forever()


class _Counting:
    """WSGI middleware: record each request, then pass it on unchanged."""

    def __init__(self, app: Any, counter: RequestCounter) -> None:
        self.app = app
        self.counter = counter

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)
        service, operation, params = describe(environ, body)
        if service:
            self.counter.record(service, operation, params)
        return self.app(environ, start_response)


def describe(environ: dict[str, Any], body: bytes) -> tuple[str, str, dict[str, Any]]:
    """(service, operation, parameters) of a signed AWS request; service "" if unsigned."""
    authorization = environ.get("HTTP_AUTHORIZATION", "")
    if "Credential=" not in authorization:
        return "", "", {}
    scope = authorization.split("Credential=", 1)[1].split(",", 1)[0].split("/")
    service = scope[3] if len(scope) > 3 else "unknown"
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    if target:
        return service, target.rsplit(".", 1)[-1], json.loads(body or b"{}")
    form = {k: v[0] for k, v in parse_qs(body.decode() or environ.get("QUERY_STRING", "")).items()}
    return service, form.get("Action", environ.get("REQUEST_METHOD", "?")), form
