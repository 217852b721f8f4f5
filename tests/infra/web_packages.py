"""`zappa package <stage>`, offline, on a copy of the project as a fresh clone has it plus
what `make run` leaves in the folder.

Packaging is the slowest thing the infrastructure tests do (a minute or more per stage on
a busy machine), so it happens once per stage per session (conftest.py's `web_packages`,
on the settings the README's deploy block writes): test_zappa.py reads the dev package,
test_readme_deploy.py both.
"""

import os
import shutil
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

from stack.template import ROOT

from .fake_aws import FAKE_AWS_ENV

ZAPPA = str(Path(sys.prefix) / "bin" / "zappa")
STAGES = ("dev", "prod")
# Left out of the copy the packages are built from, as a fresh clone would be.
NOT_IN_A_CLONE = shutil.ignore_patterns(
    ".venv", ".git", "build", "staticfiles", "__pycache__", "*.zip", "db.sqlite3", ".*_cache"
)
# What `make run` leaves in the project folder (issues 15 and 19): none of it may ship.
LOCAL_SECRETS = {
    "var/local/secret-key": "local-secret-key-that-must-not-ship",
    "var/local/outbox/00001.eml": "Subject: a caught email\n\nlocal only",
    ".env": "DJANGO_SECRET_KEY=from-a-dotenv-file",
}


def offline_zappa_env() -> dict[str, str]:
    """`zappa package` with no network: this virtualenv, a region, and nowhere to connect."""
    return {
        **os.environ,
        "VIRTUAL_ENV": sys.prefix,
        "AWS_DEFAULT_REGION": "us-east-1",
        # Zappa checks PyPI for a newer Zappa; a closed local port answers at once.
        "HTTPS_PROXY": "http://127.0.0.1:9",
        "HTTP_PROXY": "http://127.0.0.1:9",
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
    }


def clone(project: Path) -> Path:
    """A copy of the checkout as a fresh clone has it, after a `make run`."""
    shutil.copytree(ROOT, project, ignore=NOT_IN_A_CLONE)
    for path, secret in LOCAL_SECRETS.items():
        (project / path).parent.mkdir(parents=True, exist_ok=True)
        (project / path).write_text(secret)
    return project


def package_stages(project: Path, stages: Iterable[str], folder: Path) -> dict[str, Path]:
    """`zappa package <stage>` for each stage, all at once (each is mostly waiting on
    files), each in its own copy of `project` (collectstatic clears the folder it
    writes); stage -> zip."""
    copies = {stage: shutil.copytree(project, folder / stage) for stage in stages}
    env = {**offline_zappa_env(), **FAKE_AWS_ENV}
    outputs = {stage: folder / f"web-{stage}.zip" for stage in copies}
    processes = {
        stage: subprocess.Popen(
            [ZAPPA, "package", stage, "--output", str(output)],
            cwd=copies[stage],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for stage, output in outputs.items()
    }
    for stage, process in processes.items():
        log, _ = process.communicate(timeout=300)
        assert process.returncode == 0, f"zappa package {stage}: {log}"
    return outputs
