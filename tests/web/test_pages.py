"""Pages anyone may reach: the home page a visitor sees, and the 404 and 500 pages (the
site's own look, never Django's bare defaults; a 500 page that needs neither the
database nor the request, either of which may be what failed)."""

import pytest
from django.test import Client, RequestFactory
from django.urls import reverse
from django.views.defaults import server_error

from django_app.reports import storage


@pytest.mark.django_db
def test_the_home_page_tells_a_visitor_what_the_app_is(client):
    page = client.get("/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="landing"' in html and "Reports from your CSV files" in html
    assert f'href="{reverse("accounts:signup")}" id="landing-signup"' in html
    assert f'href="{reverse("accounts:login")}" id="landing-login"' in html
    assert 'id="upload-form"' not in html


@pytest.mark.django_db
def test_a_missing_page_is_the_sites_404(client, alice_client):
    for visitor in (client, alice_client):
        response = visitor.get("/no/such/page/")
        assert response.status_code == 404
        page = response.content.decode()
        assert 'id="not-found"' in page and "<title>Not found · CSV Reports</title>" in page
        assert 'href="/static/css/app.css"' in page
    assert "Log out alice" in alice_client.get("/no/such/page/").content.decode()


def test_the_500_page_needs_no_database_and_no_request_context():
    """No django_db mark: any query here fails the test. The request has no session and
    no user, as when the middleware itself failed."""
    response = server_error(RequestFactory().get("/"))
    assert response.status_code == 500
    page = response.content.decode()
    assert 'id="server-error"' in page and 'href="/static/css/app.css"' in page
    assert "Log in" not in page  # no guess at who is logged in


@pytest.mark.django_db
def test_an_error_in_a_view_shows_the_styled_500_page(alice, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(storage, "upload_form", broken)
    visitor = Client(raise_request_exception=False)
    visitor.force_login(alice)
    response = visitor.get("/")
    assert response.status_code == 500
    page = response.content.decode()
    assert 'id="server-error"' in page
    assert "a bug" not in page and "Traceback" not in page
