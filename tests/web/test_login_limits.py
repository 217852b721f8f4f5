"""Issue 15: password guessing is cut off (django-axes), on the site's login and the
admin's, by client address and by username, and the address is API Gateway's record of
the connection, which no header can change. Before, 30 wrong passwords in a row were
followed by a login with the right one."""

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from zappa.wsgi import create_wsgi_request

from django_app.accounts.client_ip import client_ip

pytestmark = pytest.mark.usefixtures("fresh_cache")

RIGHT = "correct horse battery"


def api_gateway_event(source_ip, forwarded_for):
    """A REST API (v1) proxy event as API Gateway sends it to the Zappa function."""
    return {
        "httpMethod": "POST",
        "path": "/accounts/login/",
        "headers": {"Host": "abc123.execute-api.eu-west-1.amazonaws.com", **forwarded_for},
        "queryStringParameters": None,
        "body": "",
        "isBase64Encoded": False,
        "requestContext": {"identity": {"sourceIp": source_ip}, "stage": "dev"},
    }


def through_api_gateway(source_ip, spoofed):
    """What a request's META holds behind Zappa: its WSGI environ plus the event. The
    client sent `X-Forwarded-For: <spoofed>`; API Gateway appended the real address."""
    event = api_gateway_event(source_ip, {"X-Forwarded-For": f"{spoofed}, {source_ip}"})
    environ = create_wsgi_request(event)
    addresses = {name: environ[name] for name in ("REMOTE_ADDR", "HTTP_X_FORWARDED_FOR")}
    return {**addresses, "lambda.event": event}


def log_in(client, username, password, **meta):
    return client.post(
        reverse("accounts:login"), {"username": username, "password": password}, **meta
    )


def test_the_client_address_is_api_gateways_not_a_header():
    meta = through_api_gateway("198.51.100.23", spoofed="10.9.8.7")
    assert meta["REMOTE_ADDR"] == "10.9.8.7"  # Zappa trusts the header the client wrote
    request = type("Request", (), {"META": meta})()
    assert client_ip(request) == "198.51.100.23"


def test_off_lambda_the_address_is_the_peers():
    request = type("Request", (), {"META": {"REMOTE_ADDR": "127.0.0.1"}})()
    assert client_ip(request) == "127.0.0.1"


def test_guessing_a_password_locks_the_account_even_for_the_right_one(alice, settings):
    settings.AXES_FAILURE_LIMIT = 5
    client = Client()
    for _ in range(4):
        assert log_in(client, "alice", "wrong").status_code == 200  # the form, with an error
    assert log_in(client, "alice", "wrong").status_code == 429  # the fifth locks
    locked = log_in(client, "alice", RIGHT)
    assert locked.status_code == 429
    assert b'id="locked-out"' in locked.content
    assert "_auth_user_id" not in client.session


def test_guessing_from_many_addresses_still_locks_the_username(alice, settings):
    settings.AXES_FAILURE_LIMIT = 5
    for number in range(5):
        log_in(Client(), "alice", "wrong", REMOTE_ADDR=f"192.0.2.{number}")
    assert log_in(Client(), "alice", RIGHT, REMOTE_ADDR="192.0.2.99").status_code == 429


def test_spoofed_forwarded_for_headers_do_not_reset_the_address_count(alice, bob, settings):
    settings.AXES_FAILURE_LIMIT = 5
    for number in range(5):  # a fresh "address" and a fresh username each time
        meta = through_api_gateway("198.51.100.23", spoofed=f"10.0.0.{number}")
        log_in(Client(), f"nobody{number}", "wrong", **meta)
    meta = through_api_gateway("198.51.100.23", spoofed="10.0.0.200")
    assert log_in(Client(), "bob", RIGHT, **meta).status_code == 429
    # Someone else behind API Gateway is not held up.
    elsewhere = through_api_gateway("203.0.113.50", spoofed="10.0.0.1")
    assert log_in(Client(), "bob", RIGHT, **elsewhere).status_code == 302


def test_the_admin_login_is_guarded_too(staff, settings):
    settings.AXES_FAILURE_LIMIT = 3
    client = Client()
    url = reverse("admin:login")
    for _ in range(3):
        client.post(url, {"username": "root", "password": "wrong", "next": "/admin/"})
    response = client.post(url, {"username": "root", "password": RIGHT, "next": "/admin/"})
    assert response.status_code == 429


def test_a_lockout_ends_after_the_cool_off_or_when_an_operator_lifts_it(alice, settings):
    settings.AXES_FAILURE_LIMIT = 2
    client = Client()
    for _ in range(2):
        log_in(client, "alice", "wrong")
    assert log_in(client, "alice", RIGHT).status_code == 429
    call_command("axes_reset_username", "alice")
    call_command("axes_reset_ip", "127.0.0.1")
    assert log_in(client, "alice", RIGHT).status_code == 302


def test_fewer_failures_than_the_limit_do_not_lock(alice):
    client = Client()
    for _ in range(3):
        log_in(client, "alice", "wrong")
    assert log_in(client, "alice", RIGHT).status_code == 302


def test_axes_has_nothing_to_say_about_the_configuration():
    from django.core import checks

    tags = [checks.Tags.security, checks.Tags.caches, checks.Tags.compatibility]
    found = [
        message.id for message in checks.run_checks(tags=tags) if message.id.startswith("axes")
    ]
    assert found == []
