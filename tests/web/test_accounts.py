"""Sign-up, login, logout, and the safety of where they send the browser next."""

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

# Sign-up enqueues the email that confirms the address.
pytestmark = pytest.mark.usefixtures("aws", "fresh_cache")

SIGNUP = {
    "username": "carol",
    "email": "carol@example.com",
    "password1": "a long passphrase 42",
    "password2": "a long passphrase 42",
}


@pytest.mark.django_db
def test_pages_ask_for_login_first(client):
    for name in ("jobs:list", "rates:index", "outbox:list"):
        response = client.get(reverse(name))
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("accounts:login") + "?next=")


@pytest.mark.django_db
def test_signup_creates_the_account_and_signs_in(client):
    page = client.get(reverse("accounts:signup"))
    assert b'id="signup-form"' in page.content

    response = client.post(reverse("accounts:signup"), SIGNUP)
    assert response.status_code == 302 and response["Location"] == reverse("reports:index")
    user = get_user_model().objects.get(username="carol")
    assert user.email == "carol@example.com" and not user.is_staff
    assert client.get(reverse("jobs:list")).status_code == 200  # signed in


@pytest.mark.django_db
def test_signup_errors_are_shown_and_nothing_is_created(client):
    response = client.post(
        reverse("accounts:signup"), {**SIGNUP, "password2": "different", "email": ""}
    )
    assert response.status_code == 200
    assert "The two password fields didn" in response.content.decode()
    assert b"This field is required." in response.content
    assert not get_user_model().objects.filter(username="carol").exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("next_url", "lands_on"),
    [
        ("/tasks/", "/tasks/"),
        ("https://evil.example/steal", "/"),
        ("//evil.example/", "/"),
        ("javascript:alert(1)", "/"),
    ],
)
def test_signup_follows_next_only_on_this_site(client, next_url, lands_on):
    response = client.post(reverse("accounts:signup"), {**SIGNUP, "next": next_url})
    assert response["Location"] == lands_on


def test_login_follows_a_safe_next_and_refuses_another_host(client, alice):
    credentials = {"username": "alice", "password": "correct horse battery"}
    response = client.post(reverse("accounts:login") + "?next=/rates/", credentials)
    assert response["Location"] == "/rates/"
    client.logout()
    response = client.post(
        reverse("accounts:login"), {**credentials, "next": "https://evil.example/"}
    )
    assert response["Location"] == reverse("reports:index")


def test_wrong_password_is_refused(client, alice):
    response = client.post(reverse("accounts:login"), {"username": "alice", "password": "wrong"})
    assert response.status_code == 200 and b'id="form-errors"' in response.content


def test_logout_is_a_post(alice_client):
    assert alice_client.get(reverse("accounts:logout")).status_code == 405
    response = alice_client.post(reverse("accounts:logout"))
    assert response["Location"] == reverse("accounts:login")
    assert alice_client.get(reverse("jobs:list")).status_code == 302


@pytest.mark.django_db
def test_csrf_is_enforced():
    strict = Client(enforce_csrf_checks=True)
    assert strict.post(reverse("accounts:signup"), SIGNUP).status_code == 403
    page = strict.get(reverse("accounts:signup"))
    token = page.context["csrf_token"]
    response = strict.post(reverse("accounts:signup"), {**SIGNUP, "csrfmiddlewaretoken": token})
    assert response.status_code == 302
