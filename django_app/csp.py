"""The Content-Security-Policy every page is sent with (Django's own middleware).

The pages load scripts and styles from the app's static files only: no inline script,
no <style> block, no style attribute, no event handler attribute (tests/web/test_csp.py
reads every template's output for them, and the browser test listens for violations).
So an injected <script> or inline handler would not run, even if escaping ever failed.
Progress bars get their width from progress.js (a style set through the DOM is not an
inline style). Forms post to this site, except the upload form, which posts to S3, and
the script that sends several files to S3 at once: that one page adds S3's origin to
form-action and connect-src (`allow_uploads_to`).
"""

from urllib.parse import urlsplit

from django.conf import settings
from django.http import HttpResponse
from django.utils.csp import CSP


def policy(static_url: str) -> dict[str, list[str]]:
    """The policy, with the static files' origin added when they are served elsewhere
    (DJANGO_STATIC_URL on a CDN)."""
    assets = [CSP.SELF, *filter(None, [origin(static_url)])]
    return {
        "default-src": [CSP.SELF],
        "script-src": assets,
        "style-src": assets,
        "img-src": [*assets, "data:"],
        "font-src": assets,
        "connect-src": [CSP.SELF],
        "object-src": [CSP.NONE],
        "base-uri": [CSP.NONE],
        "frame-ancestors": [CSP.NONE],
        "form-action": [CSP.SELF],
    }


def origin(url: str) -> str | None:
    """scheme://host[:port] of an absolute URL; None for a path."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else None


def allow_uploads_to(response: HttpResponse, url: str) -> HttpResponse:
    """Let this response's forms, and its scripts' requests, go to `url`'s origin too (as
    Django's csp_override decorator does, but for an origin known only when the view
    runs)."""
    target = origin(url)
    if target:
        config = {**settings.SECURE_CSP}
        for directive in ("form-action", "connect-src"):
            config[directive] = [*config.get(directive, [CSP.SELF]), target]
        response._csp_config = config  # type: ignore[attr-defined]
    return response
