"""Zappa hooks (zappa_settings.json), run by `zappa package|deploy|update` on the build machine.

Zappa loads this file by its path, as a top-level module, and does not put the project on
sys.path; the lines below the docstring do that so the hooks can use the stack package.

- prebuild_script `collect_static`: whitenoise serves the static files from the package, so
  they must be collected into STATIC_ROOT before Zappa copies the project.
- callbacks.zip `finish_package`: runs after Zappa writes the zip and before it uploads
  it. Zappa 0.63 dates every zip entry 1980-01-01 and keeps the .pyc files the build
  machine compiled against real timestamps; on Lambda none match, so each cold start would
  recompile every module it imports. This rewrites the zip with unchecked-hash bytecode and
  without packages the web stage does not import (stack.web_package).
"""

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from stack import web_package  # noqa: E402


def collect_static() -> None:
    """The prebuild script: `manage.py collectstatic` with the web stage's settings."""
    env = {
        # Settings insist on a secret key; collecting files needs none, so a throwaway does.
        "DJANGO_SECRET_KEY": "collectstatic-only",
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "django_app.settings",
    }
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "--clear", "--verbosity", "0"],
        cwd=ROOT,
        env=env,
        check=True,
    )


def finish_package(cli: Any) -> None:
    """The zip callback: Zappa passes its ZappaCLI, whose zip_path is the package."""
    pruned = web_package.finish(Path(cli.zip_path))
    if pruned:
        print(
            "Left out of the web package (not imported at runtime; add them to `exclude` "
            f"in zappa_settings.json to skip copying them): {', '.join(pruned)}"
        )
