"""The requirements are locked with hashes (issue 15): what is installed, here or on Lambda,
is exactly what was reviewed, byte for byte.

People edit requirements.in (what runs on Lambda) and requirements-dev.in (tests and
tools); `make lock` compiles them into requirements.txt and requirements-dev.txt, every
distribution pinned with its hashes, and `make install` and the Lambda artifact's build
install with --require-hashes.
"""

import re
import subprocess
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from stack import artifact, dependencies, web_package
from stack.template import ROOT

LOCKS = {"requirements.txt": "requirements.in", "requirements-dev.txt": "requirements-dev.in"}


def locked(path: Path) -> dict[str, tuple[str, int]]:
    """A lock's distributions: canonical name -> (version, how many hashes)."""
    found: dict[str, tuple[str, int]] = {}
    name = ""
    for line in path.read_text().splitlines():
        if match := re.match(r"^([A-Za-z0-9][\w.-]*)==(\S+) \\$", line):
            name = dependencies.canonical(match[1])
            found[name] = (match[2], 0)
        elif line.strip().startswith("--hash=sha256:") and name:
            version, hashes = found[name]
            found[name] = (version, hashes + 1)
        elif line and not line.startswith(("#", " ")):
            pytest.fail(f"{path.name}: not a locked requirement: {line!r}")
    return found


def edited(path: Path) -> dict[str, str]:
    """What a .in file asks for: canonical name -> pinned version."""
    asked = {}
    for line in path.read_text().splitlines():
        text = line.split("#", 1)[0].strip()
        if text and not text.startswith("-"):
            requirement = Requirement(text)
            (pin,) = requirement.specifier
            assert pin.operator == "==", f"{path.name}: pin {requirement.name} with =="
            asked[dependencies.canonical(requirement.name)] = pin.version
    return asked


@pytest.mark.parametrize("lock", LOCKS)
def test_every_distribution_is_pinned_with_its_hashes(lock):
    found = locked(ROOT / lock)
    assert found and all(hashes for _, hashes in found.values()), lock


@pytest.mark.parametrize("lock", LOCKS)
def test_the_lock_holds_what_its_source_asks_for(lock):
    """An edit to a .in file without `make lock` leaves the lock behind."""
    found = locked(ROOT / lock)
    versions = {name: version for name, (version, _) in found.items()}
    asked = edited(ROOT / LOCKS[lock])
    if lock == "requirements-dev.txt":
        asked |= edited(ROOT / "requirements.in")  # its -r
    assert {name: versions.get(name) for name in asked} == asked


def test_tests_run_the_versions_that_ship():
    runtime, dev = locked(ROOT / "requirements.txt"), locked(ROOT / "requirements-dev.txt")
    assert {name: dev.get(name) for name in runtime} == runtime


def test_everything_the_web_package_ships_is_locked():
    """Zappa's handler brings werkzeug and durationpy, which nothing else pins."""
    shipped = web_package.runtime_distributions()
    assert {"werkzeug", "durationpy", "zappa"} <= set(shipped)
    dev = locked(ROOT / "requirements-dev.txt")
    versions = {name: d.version for name, d in shipped.items()}
    assert {name: dev.get(name, ("unlocked",))[0] for name in versions} == versions


def test_installs_require_hashes(monkeypatch, tmp_path):
    makefile = (ROOT / "Makefile").read_text()
    assert "pip install --quiet --require-hashes -r requirements-dev.txt" in makefile
    commands = []
    monkeypatch.setattr(subprocess, "run", lambda command, **_: commands.append(command))
    monkeypatch.setattr(artifact, "remove_runtime_provided", lambda *_: [])
    artifact.install_requirements(tmp_path)
    (command,) = commands
    assert "--require-hashes" in command
    assert command[command.index("--requirement") + 1] == str(ROOT / "requirements.txt")
