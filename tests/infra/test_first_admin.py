"""stack.first_admin: the code `zappa invoke <stage> --raw` runs to create the first admin
with `createsuperuser --noinput`, run here as Zappa's handler would (exec)."""

import os

import pytest
from django.contrib.auth import get_user_model

from stack import first_admin

PASSWORD = 'it\'s a "quoted"\\ pass\nword {}'
ENVIRON = {
    "DJANGO_SUPERUSER_USERNAME": "admin",
    "DJANGO_SUPERUSER_EMAIL": "admin@example.com",
    "DJANGO_SUPERUSER_PASSWORD": PASSWORD,
}


@pytest.mark.django_db
def test_the_code_creates_a_superuser_and_leaves_no_password_behind(capsys):
    exec(first_admin.raw_command(ENVIRON), {})  # what Zappa's handler does with --raw
    admin = get_user_model().objects.get(username="admin")
    assert admin.is_superuser and admin.is_staff and admin.email == "admin@example.com"
    assert admin.check_password(PASSWORD)
    assert not [name for name in first_admin.VARIABLES if name in os.environ]
    assert "Superuser created successfully." in capsys.readouterr().out


@pytest.mark.django_db
def test_running_it_twice_says_the_name_is_taken_and_changes_nothing():
    exec(first_admin.raw_command(ENVIRON), {})
    with pytest.raises(Exception, match="already taken"):
        exec(first_admin.raw_command({**ENVIRON, "DJANGO_SUPERUSER_PASSWORD": "other"}), {})
    assert get_user_model().objects.get(username="admin").check_password(PASSWORD)
    assert not [name for name in first_admin.VARIABLES if name in os.environ]


def test_a_missing_variable_is_named_and_nothing_is_printed(monkeypatch, capsys):
    for name in first_admin.VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DJANGO_SUPERUSER_USERNAME", "admin")
    assert first_admin.main() == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "DJANGO_SUPERUSER_EMAIL, DJANGO_SUPERUSER_PASSWORD" in captured.err


def test_the_password_is_never_printed_outside_the_code(monkeypatch, capsys):
    for name, value in ENVIRON.items():
        monkeypatch.setenv(name, value)
    assert first_admin.main() == 0
    code = capsys.readouterr().out
    assert "print" not in code and "logging" not in code
    compile(code, "raw_command", "exec")
