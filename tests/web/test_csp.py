"""Issue 15 (hardening): every page is sent with a Content-Security-Policy that allows
no inline code, and every page satisfies it: no inline script, <style>, style or event
handler attribute, in the app's templates or the admin's. (The browser test listens for
violations in a real browser too.)"""

from html.parser import HTMLParser

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from django_app.jobs.models import Job
from tests.web.helpers import (
    BUCKET,
    SALES,
    build,
    start_combined,
    start_report,
    upload,
    upload_several,
)
from tests.web.test_outbox import outbox  # noqa: F401 (a fixture)

pytestmark = pytest.mark.usefixtures("web_aws")


class InlineCode(HTMLParser):
    """What a page holds that a policy without 'unsafe-inline' would block."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        names = dict(attrs)
        if tag == "style":
            self.found.append("<style>")
        if tag == "script":
            self._in_script = "src" not in names
        for name in names:
            if name == "style" or name.startswith("on"):
                self.found.append(f"<{tag} {name}=...>")

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = False

    def handle_data(self, data):
        if self._in_script and data.strip():
            self.found.append(f"<script>{data.strip()[:40]}")


def blocked_by_policy(response) -> list[str]:
    header = response["Content-Security-Policy"]
    assert "'unsafe-inline'" not in header and "'unsafe-eval'" not in header
    assert "script-src 'self'" in header and "style-src 'self'" in header
    parser = InlineCode()
    parser.feed(response.content.decode())
    return parser.found


def pages_of(client, user, staff_client):
    """Every page of the app, in each of its states, and the admin's main pages."""
    report = build(client, user, group_by=["region"])
    waiting = start_report(client, upload(client, user))
    several = [("a.csv", SALES), ("b.csv", SALES)]
    combine_url = upload_several(client, user, several)["Location"]
    combined = start_combined(client, user, several)
    job = Job.objects.filter(owner=user).first()
    yield from [
        client.get(reverse("reports:index")),
        client.get(report.upload.get_absolute_url()),
        client.get(combine_url),
        client.get(combined.get_absolute_url()),
        client.get(report.get_absolute_url()),
        client.get(waiting.get_absolute_url()),
        client.get(reverse("jobs:list")),
        client.get(reverse("rates:index")),
        client.get(reverse("accounts:verify", args=["some-token"])),
        staff_client.get(reverse("jobs:list")),
        staff_client.get(reverse("outbox:list")),
        staff_client.get(reverse("outbox:email", args=["00001.eml"])),
        staff_client.get(reverse("admin:index")),
        staff_client.get(reverse("admin:jobs_job_changelist")),
        staff_client.get(reverse("admin:jobs_job_change", args=[job.pk])),
    ]


@pytest.mark.usefixtures("outbox")
def test_every_page_satisfies_its_policy(alice_client, alice, staff, client):
    get_user_model().objects.filter(pk=staff.pk).update(is_superuser=True)
    staff.refresh_from_db()
    staff_client = type(client)()
    staff_client.force_login(staff)
    responses = [
        client.get(reverse("accounts:login")),
        client.get(reverse("accounts:signup")),
        client.get(reverse("admin:login")),
        *pages_of(alice_client, alice, staff_client),
    ]
    for response in responses:
        assert response.status_code == 200, response.request["PATH_INFO"]
        assert blocked_by_policy(response) == [], response.request["PATH_INFO"]


def test_the_upload_page_may_post_to_s3_and_no_other_page_may(alice_client):
    upload_page = alice_client.get(reverse("reports:index"))["Content-Security-Policy"]
    assert f"form-action 'self' https://{BUCKET}.s3.amazonaws.com" in upload_page
    # Several files at once: the page's script posts each to S3 itself.
    assert f"connect-src 'self' https://{BUCKET}.s3.amazonaws.com" in upload_page
    tasks_page = alice_client.get(reverse("jobs:list"))["Content-Security-Policy"]
    assert "form-action 'self';" in tasks_page + ";" and "s3" not in tasks_page
    assert "frame-ancestors 'none'" in tasks_page and "object-src 'none'" in tasks_page


def test_static_files_on_another_origin_are_allowed_by_origin():
    from django_app.csp import policy

    config = policy("https://cdn.example.com/static/")
    assert config["script-src"] == ["'self'", "https://cdn.example.com"]
    assert policy("static/")["script-src"] == ["'self'"]
