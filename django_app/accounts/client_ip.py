"""The address a request came from, as API Gateway saw it.

Behind API Gateway every request reaches Django from Lambda, and X-Forwarded-For is
whatever the client sent with API Gateway's own address for it appended. Zappa takes
the second-to-last entry as REMOTE_ADDR (right behind CloudFront, on an edge-optimized
API), but this stage's API is REGIONAL: there that entry is the client's to choose, so
anyone could claim a fresh address for every guess. API Gateway's own record of the
connection, `requestContext.identity.sourceIp` (`requestContext.http.sourceIp` for HTTP
APIs), cannot be forged, and Zappa hands Django the event as `lambda.event`. Off Lambda
(the local system, tests) there is no event, and REMOTE_ADDR is the peer's address.
"""

from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str | None:
    event = request.META.get("lambda.event")
    context = event.get("requestContext") if isinstance(event, dict) else None
    if isinstance(context, dict):
        for source in (context.get("identity"), context.get("http")):
            if isinstance(source, dict) and source.get("sourceIp"):
                return str(source["sourceIp"])
    return request.META.get("REMOTE_ADDR")
