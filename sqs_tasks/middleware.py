"""Django middleware that names each web request, so a task can be traced to it and back.

The id is Lambda's request id when Zappa serves the request (it puts the Lambda context
in the WSGI environ), else the caller's X-Request-ID, else a fresh one. Every log line
of the request carries it, every task the request enqueues records it, and the response
returns it in X-Request-ID, which a user can quote in a support request.
"""

import re
import uuid
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from sqs_tasks import log_context

_SAFE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def request_id_of(request: HttpRequest) -> str:
    context = request.META.get("lambda.context")
    if request_id := getattr(context, "aws_request_id", None):
        return str(request_id)
    given = request.headers.get("X-Request-ID", "")
    return given if _SAFE_ID.match(given) else uuid.uuid4().hex


class RequestIdMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = request_id_of(request)
        with log_context.bound(request_id=request_id):
            response = self.get_response(request)
        response["X-Request-ID"] = request_id
        return response
