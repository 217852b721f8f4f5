import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

from django_app.accounts.models import EmailAddress
from stack.local.rates_api import RatesApiStandIn

RATE_LIMIT_TABLE = "app-test-rate-limits"


@pytest.fixture(scope="session")
def _empty_static_root(tmp_path_factory):
    return tmp_path_factory.mktemp("static")


@pytest.fixture(autouse=True)
def _plain_static_storage(settings, _empty_static_root):
    """Pages use {% static %}; the manifest storage needs collectstatic, which unit tests
    skip (test_static.py runs it). An empty STATIC_ROOT keeps whitenoise quiet."""
    settings.STATIC_ROOT = _empty_static_root
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture
def web_aws(aws):
    """The core's moto resources (the limits table, which the rates app uses, with them)."""
    return aws


def _user(username, **extra):
    """A user who signed up and confirmed their address (accounts.verification)."""
    user = get_user_model().objects.create_user(
        username, f"{username}@example.com", "correct horse battery", **extra
    )
    EmailAddress.objects.create(user=user, email=user.email, verified_at=timezone.now())
    return user


@pytest.fixture
def alice(transactional_db):
    return _user("alice")


@pytest.fixture
def bob(transactional_db):
    return _user("bob")


@pytest.fixture
def staff(transactional_db):
    return _user("root", is_staff=True)


def _client_for(user):
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def alice_client(alice):
    return _client_for(alice)


@pytest.fixture
def bob_client(bob):
    return _client_for(bob)


@pytest.fixture
def staff_client(staff):
    return _client_for(staff)


@pytest.fixture
def fake_api(settings):
    """A scripted HTTP server on 127.0.0.1 (ephemeral port), and settings that point the
    rates client at it, with short timeouts and a generous shared limit."""
    with RatesApiStandIn() as api:
        settings.RATES_API_URL = api.url
        settings.RATES_API_TIMEOUT = 0.3
        yield api


@pytest.fixture
def fresh_cache(db):
    """An empty shared cache: the database cache's table outlives each test's flush, and
    the sign-up throttle counts in it."""
    from django.core.cache import cache

    cache.clear()
