"""What `make install` asks pip for: nothing it would warn about."""

from importlib.metadata import PackageNotFoundError, metadata

import pytest
from packaging.requirements import Requirement

from tests.local.conftest import ROOT

# What people edit; the lock files pip-compile makes of them ask for no extras.
REQUIREMENT_FILES = ["requirements.in", "requirements-dev.in"]


def pinned(name: str) -> list[Requirement]:
    lines = (ROOT / name).read_text().splitlines()
    return [
        Requirement(line.split("#", 1)[0])
        for line in lines
        if line.split("#", 1)[0].strip() and not line.startswith("-")
    ]


@pytest.mark.parametrize("name", REQUIREMENT_FILES)
def test_every_extra_asked_for_exists(name):
    """pip only warns about an extra a package does not provide (`moto 5.2.5 does not
    provide the extra 'lambda'`), and installs without it: a typo that looks harmless."""
    missing = []
    for requirement in pinned(name):
        try:
            provided = set(metadata(requirement.name).get_all("Provides-Extra") or [])
        except PackageNotFoundError:
            continue  # not installed here (a platform-specific pin): pip checks it
        missing += [f"{requirement.name}[{extra}]" for extra in requirement.extras - provided]
    assert not missing, f"{name} asks for extras that do not exist: {missing}"
