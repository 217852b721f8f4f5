"""Where the local system keeps its state, and the environment its processes share.

Kept apart from system.py (which imports moto and boto3) so that `manage.py` can ask,
cheaply, whether a local system is running and adopt its environment: a plain
`python manage.py tasks_failed` then works against `make run`'s system, as
`python -m stack.local manage tasks_failed` does.
"""

import json
import os
import secrets
import sys
from dataclasses import dataclass
from pathlib import Path

from stack.local.web import web_environment
from stack.template import ROOT

REGION = "us-east-1"
LOCAL_SENDER = "tasks@app.local"
PARAMETERS = {"AppName": "app", "Stage": "dev"}
# `make run`'s folder; LOCAL_STACK_DIR (or `python -m stack.local --dir`) moves it.
DEFAULT_DIR = Path(os.environ.get("LOCAL_STACK_DIR") or ROOT / "var" / "local")
# Any of these means the caller chose its own configuration: manage.py leaves it alone.
OWN_CONFIGURATION = ("DJANGO_SECRET_KEY", "DJANGO_SECRET_ID", "DJANGO_DEBUG")


@dataclass
class Paths:
    root: Path  # state that survives a restart: database, secret key, admin password, outbox

    @property
    def state(self) -> Path:
        return self.root / "state.json"

    @property
    def outbox(self) -> Path:
        return self.root / "outbox"

    def secret_key(self) -> str:
        return self._kept_secret("secret-key", 50)

    def admin_password(self) -> str:
        """The local admin's password: made once, then the same at every start (a new one
        each start would log staff out and send them back to the terminal)."""
        return self._kept_secret("admin-password", 12)

    def _kept_secret(self, name: str, size: int) -> str:
        path = self.root / name
        if not path.exists():
            self.root.mkdir(parents=True, exist_ok=True)
            path.touch(mode=0o600)
            path.write_text(secrets.token_urlsafe(size))
        return path.read_text().strip()


def local_environment(paths: Paths, aws_port: int, web_port: int = 8000) -> dict[str, str]:
    """What every local process shares: the emulator as AWS, local secrets and database."""
    return {
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{aws_port}",
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "DJANGO_SETTINGS_MODULE": "django_app.settings",
        "DJANGO_SECRET_KEY": paths.secret_key(),
        "DATABASE_URL": f"sqlite:///{paths.root / 'db.sqlite3'}",
        "DJANGO_SECURE_SSL_REDIRECT": "false",
        "DJANGO_SECURE_COOKIES": "false",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "LOCAL_OUTBOX_DIR": str(paths.outbox),
        # Links in emails point at the local web app.
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{web_port}",
        "DJANGO_DEFAULT_FROM_EMAIL": LOCAL_SENDER,
        "PYTHONUNBUFFERED": "1",
    }


def stage_environment(paths: Paths, aws_port: int, web_port: int = 8000) -> dict[str, str]:
    """The web stage's environment as Zappa would set it, with the local parts laid over."""
    return {**web_environment(PARAMETERS["Stage"]), **local_environment(paths, aws_port, web_port)}


def process_environment(paths: Paths, aws_port: int, web_port: int = 8000) -> dict[str, str]:
    """This process's environment with the stage's and the local parts laid over it."""
    return {**os.environ, **stage_environment(paths, aws_port, web_port)}


def running_ports(paths: Paths) -> tuple[int, int] | None:
    """(AWS port, web port) of the local system running from `paths`, or None when none
    is: no state.json, or one left behind by a system that did not stop cleanly."""
    try:
        state = json.loads(paths.state.read_text())
        os.kill(int(state["pid"]), 0)
        aws_port, web_port = (int(state[key].rsplit(":", 1)[1]) for key in ("endpoint", "web"))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return aws_port, web_port


def adopt_running_system(root: Path = DEFAULT_DIR) -> bool:
    """For manage.py: with no configuration of the caller's own, take the running local
    system's, saying so on stderr. Returns whether it did."""
    if any(os.environ.get(name) for name in OWN_CONFIGURATION):
        return False
    paths = Paths(root)
    ports = running_ports(paths)
    if ports is None:
        return False
    os.environ.update(stage_environment(paths, *ports))
    print(
        f"manage.py: using the local system running from {root} (make run); "
        f"set DJANGO_SECRET_KEY or DJANGO_SECRET_ID to use another.",
        file=sys.stderr,
    )
    return True
