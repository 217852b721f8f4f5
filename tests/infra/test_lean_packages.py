"""Lean packages (issue 18): what the allow-list (stack.allowlist) leaves in a package is
enough to run everything Lambda runs; what it leaves out is what never runs there.

The worker's tree is assembled here from the distributions installed in this virtualenv
(the ones `make lambda-artifact` installs for arm64, at the same pinned versions), pruned
as the build prunes, and then tests/infra/lean_probe.py runs the handlers, tasks, a
schedule and email from it against moto. The web stage's zip gets the same treatment in
test_zappa.py."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from stack import allowlist, artifact, dependencies
from stack.template import ROOT


def run_probe(tree: Path, scratch: Path) -> dict:
    """Run tests/infra/lean_probe.py from tree; return what it found."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for name in ("TASK_QUEUES", "AWS_ENDPOINT_URL", "DJANGO_SETTINGS_MODULE"):
        env.pop(name, None)
    process = subprocess.run(
        [sys.executable, "-m", "tests.infra.lean_probe", str(tree), str(scratch)],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert process.returncode == 0, process.stderr[-4000:]
    return json.loads((scratch / "probe.json").read_text())


@pytest.fixture(scope="module")
def worker_tree(tmp_path_factory) -> Path:
    """The artifact's tree, from the installed distributions instead of arm64 wheels."""
    tree = tmp_path_factory.mktemp("worker") / "lambda"
    artifact.copy_sources(tree)
    site = Path(dependencies.installed()["django"].locate_file(""))
    names = dependencies.requirement_names(ROOT / "requirements.txt")
    for path in dependencies.files_of(dependencies.needed(names, dependencies.installed())):
        if (site / path).is_file():
            (tree / path).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(site / path, tree / path)
    artifact.prune(tree)
    return tree


@pytest.mark.slow
def test_the_worker_runs_everything_from_its_pruned_tree(worker_tree, tmp_path):
    found = run_probe(worker_tree, tmp_path)
    assert found["escaped"] == [], "the code needs what the allow-list leaves out"
    used = set(found["used"])
    assert "functions/worker.py" in used and "django/contrib/auth/models.py" in used


def test_what_is_left_out_is_what_never_runs_on_lambda(worker_tree):
    shipped = {p.relative_to(worker_tree).as_posix() for p in worker_tree.rglob("*") if p.is_file()}
    assert "django/contrib/admin/templates/admin/base.html" in shipped
    assert "django/conf/locale/en/formats.py" in shipped
    assert not [
        n
        for n in shipped
        if "/locale/" in n and "/locale/en/" not in n and not n.endswith("locale/__init__.py")
    ]
    assert not [
        n for n in shipped if n.startswith(("django/contrib/gis/", "django/contrib/postgres/"))
    ]
    assert not [n for n in shipped if "/static/" in n or "/tests/" in n]
    assert not [n for n in shipped if n.endswith((".pyi", ".po", ".pyc", "RECORD"))]
    assert not [n for n in shipped if n.startswith("aws_lambda_powertools/event_handler/")]


@pytest.mark.parametrize(
    ("path", "pattern", "expected"),
    [
        ("django/__init__.py", "django/*.py", True),
        ("django/contrib/gis/__init__.py", "django/*.py", False),  # * stays in one folder
        ("django_app/reports/views.py", "django_app/**", True),
        ("a/b/tests/c.py", "**/tests/**", True),
        ("tests/c.py", "**/tests/**", True),
        ("x.dist-info/METADATA", "*.dist-info/METADATA", True),
        ("x/y.dist-info/METADATA", "*.dist-info/METADATA", False),
    ],
)
def test_patterns_match_folder_by_folder(path, pattern, expected):
    assert allowlist.matches(path, pattern) is expected


def test_translations_ship_for_the_apps_languages_only(settings):
    assert [code for code, _ in settings.LANGUAGES] == list(allowlist.LANGUAGES)
    keep = allowlist.WEB_KEEP
    assert allowlist.allowed("django/contrib/auth/locale/en/LC_MESSAGES/django.mo", keep)
    assert not allowlist.allowed("django/contrib/auth/locale/de/LC_MESSAGES/django.mo", keep)
    i18n = "staticfiles/admin/js/vendor/select2/i18n"
    assert allowlist.allowed(f"{i18n}/en.js", keep) and allowlist.allowed(
        f"{i18n}/en.3a1b.js.gz", keep
    )
    assert not allowlist.allowed(f"{i18n}/de.js", keep)


def test_the_installed_apps_are_the_contrib_apps_that_ship(settings):
    installed = {
        app.split(".")[-1] for app in settings.INSTALLED_APPS if app.startswith("django.contrib.")
    }
    assert installed <= set(allowlist.DJANGO_CONTRIB)
    assert set(allowlist.DJANGO_CONTRIB) - installed == {"sites"}  # auth imports its shortcuts
