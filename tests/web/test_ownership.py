"""Each user sees only their own uploads, reports and tasks; staff see everything.

Another user's ids are a 404 (not a 403, which would confirm they exist)."""

import pytest
from django.urls import reverse

from django_app.jobs.models import Job
from tests.web.helpers import build

pytestmark = pytest.mark.usefixtures("web_aws")


@pytest.fixture
def alices(alice_client, alice):
    """Alice's report, its upload and its build job, all finished."""
    report = build(alice_client, alice, group_by=["region"])
    job = Job.objects.get(subject_id=report.pk, task_path__endswith="build_report")
    return report, job


def urls_of(report, job):
    return [
        ("GET", reverse("reports:upload", args=[report.upload.pk])),
        ("POST", reverse("reports:upload", args=[report.upload.pk])),
        ("GET", reverse("reports:detail", args=[report.pk])),
        ("GET", reverse("reports:html", args=[report.pk])),
        ("GET", reverse("reports:csv", args=[report.pk])),
        ("GET", reverse("jobs:status", args=[job.task_id])),
        ("POST", reverse("jobs:retry", args=[job.task_id])),
    ]


def call(client, method, url):
    return client.post(url) if method == "POST" else client.get(url)


def test_another_users_ids_are_not_found(alices, bob_client):
    for method, url in urls_of(*alices):
        assert call(bob_client, method, url).status_code == 404, (method, url)


def test_lists_show_only_ones_own(alices, bob_client):
    report, job = alices
    assert report.upload.filename not in bob_client.get(reverse("reports:index")).content.decode()
    assert job.task_id not in bob_client.get(reverse("jobs:list")).content.decode()


def test_staff_see_everything_but_act_only_on_their_own(alices, staff_client):
    report, job = alices
    can_see = [(m, u) for m, u in urls_of(report, job) if m == "GET"]
    for method, url in can_see:
        assert call(staff_client, method, url).status_code in (200, 302), url
    assert b'id="report-form"' not in staff_client.get(report.upload.get_absolute_url()).content
    assert staff_client.post(reverse("reports:upload", args=[report.upload.pk])).status_code == 404
    assert staff_client.post(reverse("jobs:retry", args=[job.task_id])).status_code == 404

    tasks_page = staff_client.get(reverse("jobs:list")).content.decode()
    assert job.task_id in tasks_page and "<th>Owner</th>" in tasks_page
    assert "<td>alice</td>" in tasks_page
    reports_page = staff_client.get(reverse("reports:index")).content.decode()
    assert report.get_absolute_url() in reports_page and "<td>alice</td>" in reports_page
    assert b"owner alice" in staff_client.get(report.get_absolute_url()).content
