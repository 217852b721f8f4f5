"""Expired sessions are cleared; live ones stay."""

from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.tasks import TaskResultStatus

from django_app.maintenance import sessions
from tests.maintenance.conftest import now
from tests.maintenance.scheduling import run_schedule


def make_session(expiry_seconds):
    store = SessionStore()
    store["user"] = "someone"
    store.set_expiry(expiry_seconds)
    store.create()
    return store.session_key


def test_clears_expired_sessions_only(transactional_db):
    expired = [make_session(-60), make_session(-3600)]
    live = make_session(3600)
    assert sessions.clear_expired() == 2
    assert list(Session.objects.values_list("session_key", flat=True)) == [live]
    assert not Session.objects.filter(session_key__in=expired).exists()


def test_an_engine_without_a_table_is_cleared_without_a_count(transactional_db, settings):
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.signed_cookies"
    assert sessions.clear_expired() is None


def test_runs_from_its_schedule(aws):
    make_session(-60)
    live = make_session(3600)
    result = run_schedule("clear-expired-sessions", now())
    assert result.status == TaskResultStatus.SUCCESSFUL, result.errors
    assert result.return_value == {"expired": 1}
    assert list(Session.objects.values_list("session_key", flat=True)) == [live]
