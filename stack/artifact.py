"""The Lambda code artifact: what goes in it, and writing it out.

One artifact serves every function in template.yaml: the project's runtime packages plus
`pip install -r requirements.txt` (boto3 is left to the runtime), cut down to what the
allow-list names (stack.allowlist), with bytecode Lambda uses as it is (stack.bytecode).
`make build-<LogicalId>` (what `sam build` runs) builds it with
`python -m stack.artifact build/lambda`.
"""

import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterable
from pathlib import Path

from stack import allowlist, dependencies
from stack.bytecode import LAMBDA_PYTHON, cache_path, check_interpreter, compile_source

ROOT = Path(__file__).resolve().parent.parent

# What runs on Lambda, relative to the project root. Tests, docs and tools stay behind.
SOURCES = ("django_app", "sqs_tasks", "functions", "manage.py")
# Lambda's arm64 runtime is Amazon Linux 2023 (glibc 2.34): manylinux wheels up to glibc
# 2.34 fit it. pip takes every tag given; psycopg-binary ships only manylinux_2_28 builds.
ARM64_WHEEL_PLATFORMS = ("manylinux2014_aarch64", "manylinux_2_28_aarch64")

_IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", "tests", ".*")
# A fixed timestamp makes the zip depend on the files alone (reproducible artifacts).
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
_ZIP_FILE_MODE = 0o100755


def copy_sources(dest: Path, root: Path = ROOT, sources: Iterable[str] = SOURCES) -> None:
    """Copy the runtime packages into dest, leaving tests and bytecode behind."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in sources:
        source = root / name
        if source.is_dir():
            shutil.copytree(source, dest / name, ignore=_IGNORED, dirs_exist_ok=True)
        else:
            shutil.copy2(source, dest / name)


def install_requirements(dest: Path, requirements: Path = ROOT / "requirements.txt") -> None:
    """pip-install the runtime requirements as arm64 Linux wheels, whatever the build host."""
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-compile",
            "--target",
            str(dest),
            *(arg for platform in ARM64_WHEEL_PLATFORMS for arg in ("--platform", platform)),
            "--implementation",
            "cp",
            "--python-version",
            ".".join(map(str, LAMBDA_PYTHON)),
            "--only-binary=:all:",
            # requirements.txt is a lock: each wheel must match one of its hashes.
            "--require-hashes",
            "--requirement",
            str(requirements),
        ],
        check=True,
    )
    remove_runtime_provided(dest, requirements)


def remove_runtime_provided(dest: Path, requirements: Path) -> list[str]:
    """Delete what pip installed only because a requirement declares boto3 (or its kin)."""
    available = dependencies.installed([dest])
    keep = dependencies.needed(dependencies.requirement_names(requirements), available)
    removed = sorted(dependencies.surplus(os.listdir(dest), keep, available))
    for name in removed:
        _remove(dest / name)
    return removed


def prune(dest: Path, keep: Iterable[str] = allowlist.KEEP) -> list[str]:
    """Delete every file the allow-list does not name (stack.allowlist), then the folders
    left empty; returns what went, relative to dest."""
    removed = []
    for path in sorted(p for p in dest.rglob("*") if p.is_file() or p.is_symlink()):
        relative = path.relative_to(dest).as_posix()
        if not allowlist.allowed(relative, keep):
            path.unlink()
            removed.append(relative)
    for folder in sorted((p for p in dest.rglob("*") if p.is_dir()), reverse=True):
        if not any(folder.iterdir()):
            folder.rmdir()
    return removed


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()


def compile_bytecode(root: Path) -> None:
    """Replace every .pyc under root with unchecked-hash bytecode of its module."""
    check_interpreter()
    for stale in list(root.rglob("__pycache__")):
        shutil.rmtree(stale)
    for source in sorted(root.rglob("*.py")):
        relative = source.relative_to(root).as_posix()
        cached = root / cache_path(relative)
        cached.parent.mkdir(exist_ok=True)
        cached.write_bytes(compile_source(source.read_bytes(), relative))


def zip_tree(root: Path, zip_path: Path) -> None:
    """Zip root's contents into zip_path (see write_zip)."""
    files = sorted(p for p in root.rglob("*") if p.is_file())
    write_zip(((p.relative_to(root).as_posix(), p.read_bytes()) for p in files), zip_path)


def write_zip(entries: Iterable[tuple[str, bytes]], zip_path: Path) -> None:
    """Write (name, data) entries with fixed timestamps and world-readable modes, so that
    the zip depends on its contents alone (reproducible artifacts)."""
    with zipfile.ZipFile(zip_path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries:
            info = zipfile.ZipInfo(name, date_time=_ZIP_EPOCH)
            info.external_attr = _ZIP_FILE_MODE << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)


def build(dest: Path, *, with_requirements: bool = True) -> None:
    """Build the artifact tree in dest (emptied first)."""
    shutil.rmtree(dest, ignore_errors=True)
    copy_sources(dest)
    if with_requirements:
        install_requirements(dest)
    prune(dest)
    compile_bytecode(dest)


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        raise SystemExit("usage: python -m stack.artifact DEST_DIR")
    build(Path(args[0]))


if __name__ == "__main__":
    main()
