"""What the local system keeps in its folder, and how manage.py finds a running one."""

import json
import os
import stat
import subprocess
import sys

import pytest

from stack.local.environment import OWN_CONFIGURATION, Paths, adopt_running_system, running_ports


def test_the_secret_key_and_admin_password_are_made_once_and_kept(tmp_path):
    paths = Paths(tmp_path / "local")
    key, password = paths.secret_key(), paths.admin_password()
    assert len(password) >= 16 and key != password
    again = Paths(tmp_path / "local")  # the next start
    assert (again.secret_key(), again.admin_password()) == (key, password)
    for name in ("secret-key", "admin-password"):
        assert stat.S_IMODE((tmp_path / "local" / name).stat().st_mode) == 0o600


def write_state(paths: Paths, pid: int) -> None:
    paths.root.mkdir(parents=True, exist_ok=True)
    paths.state.write_text(
        json.dumps(
            {"endpoint": "http://127.0.0.1:4711", "web": "http://127.0.0.1:8123", "pid": pid}
        )
    )


@pytest.fixture
def no_configuration(monkeypatch):
    for name in OWN_CONFIGURATION:
        monkeypatch.delenv(name, raising=False)
    # adopt_running_system updates os.environ: give it back as it was.
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)


def test_manage_py_adopts_a_running_local_system(tmp_path, no_configuration, capsys):
    paths = Paths(tmp_path)
    write_state(paths, os.getpid())  # this process stands in for the running system
    assert running_ports(paths) == (4711, 8123)
    assert adopt_running_system(tmp_path)
    assert os.environ["AWS_ENDPOINT_URL"] == "http://127.0.0.1:4711"
    assert os.environ["DJANGO_SECRET_KEY"] == paths.secret_key()
    assert os.environ["DATABASE_URL"] == f"sqlite:///{tmp_path / 'db.sqlite3'}"
    assert os.environ["APP_STAGE"] == "dev"  # the web stage's, from zappa_settings.json
    assert "using the local system running from" in capsys.readouterr().err


def test_nothing_is_adopted_without_a_running_system(tmp_path, no_configuration):
    assert not adopt_running_system(tmp_path)  # never started
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], text=True, capture_output=True
    ).stdout
    write_state(Paths(tmp_path), int(dead))  # left behind by a system that crashed
    assert running_ports(Paths(tmp_path)) is None
    assert not adopt_running_system(tmp_path)
    assert "AWS_ENDPOINT_URL" not in os.environ or "4711" not in os.environ["AWS_ENDPOINT_URL"]


@pytest.mark.parametrize("name", OWN_CONFIGURATION)
def test_a_configuration_of_ones_own_is_left_alone(tmp_path, no_configuration, monkeypatch, name):
    write_state(Paths(tmp_path), os.getpid())
    monkeypatch.setenv(name, "mine")
    assert not adopt_running_system(tmp_path)
    assert os.environ[name] == "mine"
