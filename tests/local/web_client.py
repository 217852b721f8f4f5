"""A plain HTTP client for the local web app: cookies, CSRF tokens and redirects, as a
browser would handle them, without a browser."""

import http.cookiejar
import re
import urllib.parse
import urllib.request

_CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


class WebClient:
    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        )

    def get(self, path: str) -> str:
        with self.opener.open(self.base_url + path, timeout=30) as response:
            return response.read().decode()

    def submit(self, path: str, fields: dict[str, str]) -> str:
        """GET the form's page for its CSRF token, then POST the form; returns the page the
        redirects end on."""
        token = _CSRF.search(self.get(path))
        assert token, f"no CSRF token on {path}"
        data = urllib.parse.urlencode({"csrfmiddlewaretoken": token[1], **fields}).encode()
        request = urllib.request.Request(self.base_url + path, data=data, method="POST")
        with self.opener.open(request, timeout=30) as response:
            return response.read().decode()
