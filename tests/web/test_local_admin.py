"""`make run`'s admin login (manage.py ensure_admin): the same across restarts."""

from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client
from django.urls import reverse


def ensure_admin(monkeypatch, password=None):
    if password is None:
        monkeypatch.delenv("DJANGO_SUPERUSER_PASSWORD", raising=False)
    else:
        monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", password)
    out = StringIO()
    call_command("ensure_admin", stdout=out)
    return out.getvalue().strip()


def admin():
    return get_user_model().objects.get(username="admin")


@pytest.mark.django_db
def test_the_local_admin_keeps_its_password_and_its_sessions_across_starts(monkeypatch):
    """`make run` passes the password it keeps in var/local/ at every start: the login it
    prints stays the same, and staff who logged in stay logged in."""
    kept = "kept-local-admin-password"
    assert ensure_admin(monkeypatch, kept) == f"admin user: admin  password: {kept}"
    assert admin().check_password(kept) and admin().is_staff and admin().is_superuser
    staff = Client()
    staff.force_login(admin())  # the session records a hash of the password
    assert staff.get(reverse("admin:index")).status_code == 200

    assert ensure_admin(monkeypatch, kept) == f"admin user: admin  password: {kept}"
    assert staff.get(reverse("admin:index")).status_code == 200  # not logged out

    # A password changed meanwhile is brought back to the one printed.
    changed = admin()
    changed.set_password("changed in the admin")
    changed.save()
    ensure_admin(monkeypatch, kept)
    assert admin().check_password(kept)


@pytest.mark.django_db
def test_without_a_kept_password_the_admin_gets_a_fresh_one(monkeypatch):
    first = ensure_admin(monkeypatch).rsplit(" ", 1)[1]
    second = ensure_admin(monkeypatch).rsplit(" ", 1)[1]
    assert first != second and admin().check_password(second)
