"""Which installed distributions a Lambda package needs, worked out from their metadata.

A package needs what requirements.txt names and everything that depends on, except what
the python3.12 Lambda runtime already has: boto3 and its own dependencies (botocore,
s3transfer, jmespath, python-dateutil, six, urllib3). Requirements such as django-ses
declare boto3, and pip would otherwise bundle a second ~30 MB copy of it.
"""

import importlib.metadata
import re
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

from packaging.requirements import Requirement

LAMBDA_PROVIDED = ("boto3",)

Distributions = dict[str, importlib.metadata.Distribution]


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_names(path: Path) -> list[str]:
    """The distribution names a requirements file pins (-r includes are not followed), in
    either form: `name==1.0  # why`, or a lock's `name==1.0 \\` and its `--hash` lines."""
    lines = (line.split("#")[0].rstrip(" \\").strip() for line in path.read_text().splitlines())
    return [Requirement(line).name for line in lines if line and not line.startswith("-")]


def installed(path: Iterable[Path] | None = None) -> Distributions:
    """The distributions installed on sys.path, or in the given directories."""
    where = {} if path is None else {"path": [str(p) for p in path]}
    return {canonical(d.metadata["Name"]): d for d in importlib.metadata.distributions(**where)}


def closure(
    names: Iterable[str], available: Distributions, *, stop: Iterable[str] = ()
) -> Distributions:
    """The distributions named and all they depend on (extras left out), short of stop."""
    stopped = {canonical(name) for name in stop}
    found: Distributions = {}
    pending = [canonical(name) for name in names]
    while pending:
        name = pending.pop()
        if name in found or name in stopped:
            continue
        found[name] = available[name]
        for line in available[name].requires or []:
            requirement = Requirement(line)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                pending.append(canonical(requirement.name))
    return found


def needed(names: Iterable[str], available: Distributions) -> Distributions:
    """closure() without what the Lambda runtime provides."""
    return closure(names, available, stop=closure(LAMBDA_PROVIDED, available))


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


def surplus(names: Iterable[str], keep: Distributions, available: Distributions) -> set[str]:
    """Of these top-level names, those owned only by distributions outside keep."""
    return set(names) & (top_level_names(available) - top_level_names(keep))
