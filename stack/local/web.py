"""The web app, served as the web Lambda would run it: the stage's environment from
zappa_settings.json, with the local endpoint and secrets laid over it."""

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from stack.local import logs
from stack.template import ROOT


def web_environment(stage: str = "dev") -> dict[str, str]:
    settings = json.loads((ROOT / "zappa_settings.json").read_text())
    return dict(settings[stage].get("environment_variables", {}))


def manage(*args: str, env: dict[str, str], cwd: Path = ROOT) -> str:
    """Run a manage.py command to its end; its output. It runs in a process group of its
    own, out of the terminal's Ctrl-C: if that comes, this process stops it quietly."""
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        env=env,
        cwd=cwd,
        check=True,
        stdout=subprocess.PIPE,
        text=True,
        process_group=0,
    ).stdout


def serve(
    port: int, env: dict[str, str], cwd: Path = ROOT, tap: Callable[[str], None] | None = None
) -> subprocess.Popen:
    process = subprocess.Popen(
        [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        bufsize=1,
    )
    logs.follow("web", process.stdout, tap)
    return process
