"""Artifact size: the worker and web deployment packages, zipped and unzipped, against
Lambda's limits for a zip package (50 MB zipped for a direct upload, 250 MB unzipped).

The worker artifact is the tree `make lambda-artifact` builds (build/lambda), zipped here
the way `sam build`/`sam deploy` would upload it; the web package is the zip
`make web-package` (Zappa) writes.
"""

import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from bench.report import table
from stack.artifact import zip_tree

ROOT = Path(__file__).resolve().parent.parent
LAMBDA_DIR = ROOT / "build" / "lambda"
WEB_ZIP = ROOT / "build" / "web-dev.zip"
ZIPPED_LIMIT_MB = 50
UNZIPPED_LIMIT_MB = 250
MB = 1024 * 1024


@dataclass
class Size:
    zipped_mb: float
    unzipped_mb: float
    files: int


def measure() -> dict[str, Size]:
    return {"worker (build/lambda)": worker_size(), "web (Zappa, build/web-dev.zip)": web_size()}


def worker_size() -> Size:
    files = [p for p in LAMBDA_DIR.rglob("*") if p.is_file()]
    with tempfile.TemporaryDirectory() as scratch:
        archive = Path(scratch) / "worker.zip"
        zip_tree(LAMBDA_DIR, archive)
        zipped = archive.stat().st_size
    return Size(zipped / MB, sum(p.stat().st_size for p in files) / MB, len(files))


def web_size() -> Size:
    with zipfile.ZipFile(WEB_ZIP) as archive:
        entries = [info for info in archive.infolist() if not info.is_dir()]
    return Size(WEB_ZIP.stat().st_size / MB, sum(i.file_size for i in entries) / MB, len(entries))


def render(sizes: dict[str, Size]) -> str:
    rows = [
        (
            name,
            f"{size.zipped_mb:.1f} MB ({size.zipped_mb / ZIPPED_LIMIT_MB:.0%} of "
            f"{ZIPPED_LIMIT_MB})",
            f"{size.unzipped_mb:.1f} MB ({size.unzipped_mb / UNZIPPED_LIMIT_MB:.0%} of "
            f"{UNZIPPED_LIMIT_MB})",
            size.files,
        )
        for name, size in sizes.items()
    ]
    return "\n\n".join(
        [
            "## 4. Artifact size",
            __doc__.strip(),
            "Sizes are exact (the builds are reproducible: fixed timestamps, sorted entries).",
            table(("package", "zipped", "unzipped", "files"), rows),
        ]
    )
