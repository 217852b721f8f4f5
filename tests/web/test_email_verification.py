"""Issue 15: the app mails only addresses their owners confirmed, and never puts a user's
words in a subject. Before, anyone could sign up with a stranger's address and upload a
file whose name carried a phishing line into the subject of a mail to them."""

import re
from datetime import timedelta
from html import unescape

import pytest
from django.contrib.auth import get_user_model
from django.core import signing
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from django_app.accounts import verification
from django_app.accounts.models import EmailAddress
from django_app.accounts.tasks import send_verification_email
from django_app.reports import tasks
from sqs_tasks.testing import drain_queue
from tests.web.helpers import build

pytestmark = pytest.mark.usefixtures("web_aws", "fresh_cache")

VICTIM = "victim@example.com"
PHISHING_NAME = "Invoice overdue - pay at evil.example now.csv"


def sign_up(client, username="mallory", email=VICTIM, address="203.0.113.7"):
    response = client.post(
        reverse("accounts:signup"),
        {
            "username": username,
            "email": email,
            "password1": "a long passphrase 42",
            "password2": "a long passphrase 42",
        },
        REMOTE_ADDR=address,
    )
    assert response.status_code == 302, response.content
    return get_user_model().objects.get(username=username)


def link_in(email):
    return re.search(r"http://127\.0\.0\.1:8000(/accounts/verify/\S+/)", email.body)[1]


def test_sign_up_mails_a_confirmation_link_with_nothing_the_user_chose(mailoutbox):
    client = Client()
    user = sign_up(client, username="Pay_at_evil.example")
    drain_queue("default")
    (email,) = mailoutbox
    assert email.to == [VICTIM] and email.subject == "Confirm your email address"
    assert "Pay_at_evil" not in email.body + email.alternatives[0][0]
    assert not verification.is_verified(user)
    assert user.jobs.get().label == "Email: confirm your address"


def test_following_the_link_and_pressing_the_button_confirms(mailoutbox):
    user = sign_up(Client())
    drain_queue("default")
    path = link_in(mailoutbox[0])
    browser = Client()  # the link is opened wherever the mail is read: no login needed
    page = browser.get(path)
    assert page.status_code == 200 and b'id="verify-form"' in page.content
    assert not verification.is_verified(user)  # a mail scanner's GET confirms nothing
    browser.post(path)
    assert verification.is_verified(user)
    assert send_verification_email.call(user.pk) is False  # no more links once confirmed


def test_a_report_for_an_unconfirmed_address_is_not_mailed_and_the_page_says_why(mailoutbox):
    client = Client()
    user = sign_up(client)
    drain_queue("default")
    report = build(client, user, filename=PHISHING_NAME)
    drain_queue("default")
    assert [email.subject for email in mailoutbox] == ["Confirm your email address"]
    assert tasks.send_report_email.call(report.pk) is False
    page = unescape(client.get(report.get_absolute_url()).content.decode())
    assert 'id="email-unconfirmed"' in page
    assert f"your address {VICTIM} is not confirmed yet" in page
    assert "on its way" not in page


def test_once_confirmed_reports_are_mailed_with_a_fixed_subject(mailoutbox):
    client = Client()
    user = sign_up(client)
    drain_queue("default")
    client.post(link_in(mailoutbox[0]))
    build(client, user, filename=PHISHING_NAME)
    drain_queue("default")
    assert [email.subject for email in mailoutbox][1:] == ["Your report is ready"]


@pytest.mark.parametrize(
    "tamper",
    [
        lambda token: token[:-2] + ("AA" if not token.endswith("AA") else "BB"),
        lambda token: signing.dumps({"user": 1, "email": VICTIM}, salt="another-purpose"),
    ],
)
def test_a_forged_or_tampered_link_confirms_nothing(mailoutbox, tamper):
    client = Client()
    user = sign_up(client)
    drain_queue("default")
    token = link_in(mailoutbox[0]).split("/")[-2]
    response = client.post(reverse("accounts:verify", args=[tamper(token)]), follow=True)
    assert "invalid or has expired" in response.content.decode()
    assert not verification.is_verified(user)


def test_an_expired_link_confirms_nothing(mailoutbox, settings):
    user = sign_up(Client())
    drain_queue("default")
    settings.ACCOUNTS_VERIFY_LINK_MAX_AGE = -1
    Client().post(link_in(mailoutbox[0]))
    assert not verification.is_verified(user)


def test_a_link_confirms_only_the_address_it_was_sent_to(mailoutbox):
    user = sign_up(Client())
    drain_queue("default")
    user.email = "someone-else@example.com"
    user.save()
    Client().post(link_in(mailoutbox[0]))
    assert not verification.is_verified(user)
    # And an address confirmed once is unconfirmed when it changes.
    EmailAddress.objects.filter(user=user).update(email=VICTIM, verified_at=timezone.now())
    assert not verification.is_verified(user)


def test_links_are_mailed_again_at_most_every_ten_minutes(mailoutbox):
    client = Client()
    user = sign_up(client)
    response = client.post(reverse("accounts:send-link"), follow=True)
    assert "A link was sent a few minutes ago" in response.content.decode()
    EmailAddress.objects.filter(user=user).update(
        link_sent_at=timezone.now() - timedelta(minutes=11)
    )
    response = client.post(reverse("accounts:send-link"), follow=True)
    assert f"A new link is on its way to {VICTIM}" in response.content.decode()
    drain_queue("default")
    assert len(mailoutbox) == 2


def test_sign_ups_are_limited_per_client_address(settings):
    settings.ACCOUNTS_SIGNUPS_PER_HOUR = 2
    sign_up(Client(), "one")
    sign_up(Client(), "two")
    refused = Client().post(
        reverse("accounts:signup"),
        {"username": "three", "email": "x@example.com", "password1": "a", "password2": "a"},
        REMOTE_ADDR="203.0.113.7",
    )
    assert refused.status_code == 429
    assert b"Too many sign-ups from your network" in refused.content
    assert not get_user_model().objects.filter(username="three").exists()
    sign_up(Client(), "four", address="198.51.100.9")  # another address is not held up
