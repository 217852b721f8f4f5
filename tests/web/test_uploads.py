"""Uploading straight to S3: the presigned form, the way back, and what gets recorded."""

import base64
import json
import re
from html import unescape
from urllib.parse import urlsplit

import pytest
import requests
from django.conf import settings
from django.urls import reverse

from django_app.reports import storage
from django_app.reports.models import Upload
from tests.helpers import count
from tests.web.helpers import BUCKET, SALES, put_csv, start_report, upload

pytestmark = pytest.mark.usefixtures("web_aws")


def form_of(response):
    """The upload form's action and hidden fields, as the browser sees them."""
    html = response.content.decode()
    form = re.search(r'<form action="([^"]+)"[^>]*id="upload-form".*?</form>', html, re.S)
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form[0]))
    return unescape(form[1]), {name: unescape(value) for name, value in fields.items()}


def policy_of(fields):
    return json.loads(base64.b64decode(fields["policy"]))


def test_the_form_is_a_sigv4_presigned_post_with_limits(alice_client, alice):
    action, fields = form_of(alice_client.get(reverse("reports:index")))
    assert action == f"https://{BUCKET}.s3.amazonaws.com/"
    assert fields["x-amz-algorithm"] == "AWS4-HMAC-SHA256"
    assert "csrfmiddlewaretoken" not in fields  # S3 refuses fields its policy does not name
    assert re.fullmatch(rf"uploads/{alice.pk}/[0-9a-f]{{32}}/data\.csv", fields["key"])
    assert fields["Content-Type"] == "text/csv"
    assert fields["success_action_redirect"] == "http://testserver/uploads/done/"

    conditions = policy_of(fields)["conditions"]
    assert {"bucket": BUCKET} in conditions
    assert {"key": fields["key"]} in conditions  # the whole key, not a prefix
    assert {"Content-Type": "text/csv"} in conditions
    assert ["content-length-range", 1, settings.REPORTS_MAX_UPLOAD_BYTES] in conditions
    assert {"success_action_redirect": "http://testserver/uploads/done/"} in conditions
    assert ["starts-with", "$x-amz-meta-filename", ""] in conditions


def test_every_form_names_a_new_unguessable_key(alice_client):
    keys = {form_of(alice_client.get(reverse("reports:index")))[1]["key"] for _ in range(3)}
    assert len(keys) == 3


def test_browser_posts_to_s3_and_comes_back_to_a_recorded_upload(alice_client, alice):
    action, fields = form_of(alice_client.get(reverse("reports:index")))
    fields["x-amz-meta-filename"] = "sales%20Q1.csv"  # what upload.js fills in
    s3_answer = requests.post(
        action,
        data=fields,
        files={"file": ("sales Q1.csv", SALES.encode(), "text/csv")},
        allow_redirects=False,
    )
    assert s3_answer.status_code == 303
    back = urlsplit(s3_answer.headers["Location"])
    assert back.path == reverse("reports:uploaded")

    response = alice_client.get(f"{back.path}?{back.query}")
    upload_row = Upload.objects.get(key=fields["key"])
    assert response["Location"] == upload_row.get_absolute_url()
    assert upload_row.owner == alice and upload_row.filename == "sales Q1.csv"
    assert upload_row.size == len(SALES.encode())
    assert upload_row.columns == ["region", "product", "units", "amount"]
    assert upload_row.preview[0] == ["north", "apples", "3", "4.50"]

    page = alice_client.get(upload_row.get_absolute_url()).content.decode()
    assert 'id="upload-preview"' in page and "<th>amount</th>" in page
    assert 'id="report-form"' in page

    alice_client.get(f"{back.path}?{back.query}")  # the way back, again
    assert Upload.objects.filter(key=fields["key"]).count() == 1


@pytest.mark.parametrize(
    "key",
    [
        "uploads/999/" + "0" * 32 + "/data.csv",  # another user's prefix
        "uploads/{pk}/../" + "0" * 32 + "/data.csv",
        "uploads/{pk}/short/data.csv",
        "reports/{pk}/" + "0" * 32 + "/report.html",
        "",
    ],
)
def test_the_way_back_only_accepts_the_users_own_upload_keys(alice_client, alice, key):
    key = key.format(pk=alice.pk)
    response = alice_client.get(reverse("reports:uploaded"), {"key": key})
    assert response.status_code == 404


def test_the_way_back_needs_the_file_to_be_there(alice_client, alice):
    key = f"uploads/{alice.pk}/{'1' * 32}/data.csv"
    assert alice_client.get(reverse("reports:uploaded"), {"key": key}).status_code == 404


def test_someone_elses_file_cannot_be_claimed(alice_client, bob):
    key = put_csv(bob, SALES)
    assert alice_client.get(reverse("reports:uploaded"), {"key": key}).status_code == 404
    assert not Upload.objects.exists()


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("a,b,a\n1,2,3\n", "The header names the column \u201ca\u201d twice."),
        ("a,b\n1,2\n1,2,3\n", "Line 3 has 3 values, but the header has 2 columns."),
        ("caf\u00e9,b\n1,2\n".encode("latin-1"), "not UTF-8"),
        (b"\x89PNG\r\n\x1a\n" + bytes(range(256)), "not UTF-8"),
        # S3 refuses no range of an empty object: InvalidRange, which was a 500 here.
        (b"", "The file is empty."),
        ("\n\n", "The first line of the file should name the columns, but it is empty."),
    ],
)
def test_a_file_that_is_not_a_usable_csv_is_refused_with_a_reason(
    alice_client, alice, content, problem
):
    key = put_csv(alice, content, filename="broken.csv")
    response = alice_client.get(reverse("reports:uploaded"), {"key": key}, follow=True)
    page = response.content.decode()
    assert response.redirect_chain[-1][0] == reverse("reports:index")
    (message,) = re.findall(r'<li class="message error">(.*?)</li>', page, re.S)
    assert unescape(message).startswith("broken.csv: ") and problem in unescape(message)
    assert "Traceback" not in page
    assert not Upload.objects.exists()


def test_an_object_of_another_type_is_refused(alice_client, alice):
    key = put_csv(alice, SALES)
    storage.save_report_file(key, SALES.encode(), "text/html")
    response = alice_client.get(reverse("reports:uploaded"), {"key": key}, follow=True)
    assert "not a CSV file within the size limit" in response.content.decode()


def test_file_names_are_cleaned():
    assert storage.clean_filename("..%2F..%2Fetc%2Fpasswd") == "....etcpasswd"
    assert storage.clean_filename("a%00b%0Ac.csv") == "abc.csv"
    assert storage.clean_filename("") == "upload.csv"
    assert storage.clean_filename("r%C3%A9sum%C3%A9.csv") == "r\u00e9sum\u00e9.csv"


def test_choosing_groupings_starts_the_heavy_task(alice_client, alice, web_aws):
    upload_row = upload(alice_client, alice)
    report = start_report(alice_client, upload_row, ["region", "product"])
    assert report.owner == alice and report.group_by == ["region", "product"]
    (job,) = alice.jobs.all()
    assert job.subject == report and job.args == [report.pk]
    assert job.task_path == "django_app.reports.tasks.build_report"
    assert count(web_aws["heavy"]) == 1


def test_at_most_three_groupings(alice_client, alice, web_aws):
    upload_row = upload(alice_client, alice)
    response = alice_client.post(
        reverse("reports:upload", args=[upload_row.pk]),
        {"group_by": ["region", "product", "units", "amount"]},
    )
    assert response.status_code == 200 and b"Pick at most 3 columns." in response.content
    response = alice_client.post(
        reverse("reports:upload", args=[upload_row.pk]), {"group_by": ["colour"]}
    )
    assert b"Select a valid choice" in response.content
    assert count(web_aws["heavy"]) == 0
