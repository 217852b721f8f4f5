"""The staff page that shows the local system's outbox (django_app/outbox.py)."""

import pytest
from django.core.mail import EmailMultiAlternatives
from django.urls import reverse


@pytest.fixture
def outbox(settings, tmp_path):
    """An outbox folder as stack/local/outbox.py leaves it: numbered .eml files."""
    settings.LOCAL_OUTBOX_DIR = str(tmp_path)
    message = EmailMultiAlternatives(
        subject="Your report on sales.csv is ready",
        body="Download the CSV:\nhttp://127.0.0.1:4566/app-dev-payloads/report.csv\n",
        from_email="tasks@app.local",
        to=["alice@example.com"],
    )
    message.attach_alternative(
        '<p><a href="http://127.0.0.1:4566/x" id="email-download-link">Download</a>'
        "<script>alert(1)</script></p>",
        "text/html",
    )
    (tmp_path / "00001.eml").write_bytes(message.message().as_bytes())
    (tmp_path / "notes.txt").write_text("not an email")
    return tmp_path


def test_staff_see_the_emails_and_open_one(staff_client, outbox):
    listing = staff_client.get(reverse("outbox:list")).content.decode()
    assert 'data-to="alice@example.com"' in listing
    assert "Your report on sales.csv is ready" in listing and "notes.txt" not in listing

    page = staff_client.get(reverse("outbox:email", args=["00001.eml"])).content.decode()
    assert '<h1 id="email-subject">Your report on sales.csv is ready</h1>' in page
    # The HTML part is shown escaped inside a sandboxed frame, never run on this page.
    assert 'sandbox srcdoc="&lt;p&gt;&lt;a href=&quot;http://127.0.0.1:4566/x&quot;' in page
    assert "<script>alert(1)</script>" not in page
    assert '<a href="http://127.0.0.1:4566/app-dev-payloads/report.csv"' in page  # text part


def test_the_outbox_is_for_staff_only(client, alice_client, outbox):
    assert alice_client.get(reverse("outbox:list")).status_code == 404
    assert alice_client.get(reverse("outbox:email", args=["00001.eml"])).status_code == 404
    response = client.get(reverse("outbox:list"))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_only_the_outbox_files_can_be_read(staff_client, outbox):
    for name in ("notes.txt", "00002.eml", "..%2Fsecret.eml"):
        assert staff_client.get(f"/outbox/{name}/").status_code == 404


def test_there_is_no_outbox_outside_the_local_system(staff_client, settings):
    settings.LOCAL_OUTBOX_DIR = ""
    assert staff_client.get(reverse("outbox:list")).status_code == 404


def test_the_newest_email_comes_first_whatever_the_number_of_digits(staff_client, outbox):
    template = (outbox / "00001.eml").read_text()
    for number, subject in [(2, "second"), (99999, "older"), (100000, "latest")]:
        text = template.replace("Your report on sales.csv is ready", subject)
        (outbox / f"{number:05d}.eml").write_text(text)
    listing = staff_client.get(reverse("outbox:list")).content.decode()
    order = ["latest", "older", "second", "Your report on sales.csv is ready"]
    positions = [listing.index(f">{subject}</a>") for subject in order]
    assert positions == sorted(positions), listing
