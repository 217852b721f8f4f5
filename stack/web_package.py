"""The web stage's package: what it must hold, and finishing the zip Zappa writes.

Zappa zips the project plus *everything* in the virtualenv's site-packages, less the
names in zappa_settings.json's `exclude`. That list keeps the known dev tools from being
copied at all, but a package installed by hand into the venv would slip through, so the
finished zip is also cut down to what the web stage imports: requirements.txt and its
dependencies, plus the part of Zappa its handler imports on Lambda. boto3 and botocore are
the runtime's: whatever needs them does not get them packaged.
"""

import importlib.metadata
import re
import zipfile
from collections.abc import Iterator
from functools import cache
from pathlib import Path, PurePosixPath

from packaging.requirements import Requirement

from stack.artifact import ROOT, write_zip
from stack.bytecode import cache_path, check_interpreter, compile_source

ZAPPA_RUNTIME = ("zappa", "werkzeug", "durationpy")
LAMBDA_PROVIDED = frozenset({"boto3", "botocore"})

Distributions = dict[str, importlib.metadata.Distribution]


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_names(path: Path) -> list[str]:
    """The distribution names a requirements file pins (-r includes are not followed)."""
    lines = (line.split("#")[0].strip() for line in path.read_text().splitlines())
    return [Requirement(line).name for line in lines if line and not line.startswith("-")]


@cache
def installed_distributions() -> Distributions:
    return {canonical(d.metadata["Name"]): d for d in importlib.metadata.distributions()}


def closure(names: list[str], *, stop: frozenset[str] = LAMBDA_PROVIDED) -> Distributions:
    """The installed distributions named, and all they depend on (extras left out)."""
    installed = installed_distributions()
    found: Distributions = {}
    pending = [canonical(name) for name in names]
    while pending:
        name = pending.pop()
        if name in found or name in stop:
            continue
        found[name] = installed[name]
        if name == "zappa":
            continue  # its own dependencies deploy; they do not serve
        for line in installed[name].requires or []:
            requirement = Requirement(line)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                pending.append(canonical(requirement.name))
    return found


def runtime_distributions() -> Distributions:
    return closure([*requirement_names(ROOT / "requirements.txt"), *ZAPPA_RUNTIME])


def files_of(distributions: Distributions) -> set[PurePosixPath]:
    """Their installed files, relative to site-packages (scripts and bytecode left out)."""
    return {
        PurePosixPath(path.as_posix())
        for distribution in distributions.values()
        for path in distribution.files or []
        if not path.as_posix().startswith("..") and "__pycache__" not in path.parts
    }


def top_level_names(distributions: Distributions) -> set[str]:
    return {path.parts[0] for path in files_of(distributions)}


def pruned_names(names: set[str]) -> set[str]:
    """Of these top-level names, those that only packages the web stage does not import own."""
    owned_elsewhere = top_level_names(installed_distributions())
    return names & (owned_elsewhere - top_level_names(runtime_distributions()))


def finish(zip_path: Path) -> list[str]:
    """Rewrite Zappa's zip in place: runtime packages only, unchecked-hash bytecode.

    Returns the top-level names it left out, which `exclude` could have skipped copying."""
    check_interpreter()
    scratch = zip_path.with_name(f"{zip_path.name}.finishing")
    with zipfile.ZipFile(zip_path) as archive:
        names = [n for n in archive.namelist() if not n.endswith("/")]
        removed = pruned_names({name.split("/")[0] for name in names})
        kept = sorted({n for n in names if n.split("/")[0] not in removed})
        write_zip(_with_bytecode(archive, kept), scratch)
    scratch.replace(zip_path)
    return sorted(removed)


def _with_bytecode(archive: zipfile.ZipFile, names: list[str]) -> Iterator[tuple[str, bytes]]:
    """The entries, each module followed by its fresh .pyc, and no stale .pyc."""
    for name in names:
        if name.endswith(".pyc"):
            continue
        data = archive.read(name)
        yield name, data
        if name.endswith(".py"):
            yield cache_path(name), compile_source(data, name)
