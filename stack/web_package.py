"""The web stage's package: what it must hold, and finishing the zip Zappa writes.

Zappa zips the project plus *everything* in the virtualenv's site-packages, less the
names in zappa_settings.json's `exclude`. That list keeps the known dev tools from being
copied at all, but a package installed by hand into the venv would slip through, so the
finished zip is also cut down to what the web stage imports: requirements.txt and its
dependencies, less what the Lambda runtime provides (stack.dependencies), plus the part of
Zappa its handler imports on Lambda.
"""

import zipfile
from collections.abc import Iterator
from pathlib import Path

from stack import dependencies
from stack.artifact import ROOT, write_zip
from stack.bytecode import cache_path, check_interpreter, compile_source

# What Zappa's handler imports on Lambda; Zappa's own dependencies only deploy.
ZAPPA_HANDLER_NEEDS = ("werkzeug", "durationpy")


def runtime_distributions() -> dependencies.Distributions:
    """What the web stage imports, from the virtualenv Zappa packages."""
    available = dependencies.installed()
    names = [*dependencies.requirement_names(ROOT / "requirements.txt"), *ZAPPA_HANDLER_NEEDS]
    return {**dependencies.needed(names, available), "zappa": available["zappa"]}


def finish(zip_path: Path) -> list[str]:
    """Rewrite Zappa's zip in place: runtime packages only, unchecked-hash bytecode.

    Returns the top-level names it left out, which `exclude` could have skipped copying."""
    check_interpreter()
    runtime, available = runtime_distributions(), dependencies.installed()
    scratch = zip_path.with_name(f"{zip_path.name}.finishing")
    with zipfile.ZipFile(zip_path) as archive:
        names = [n for n in archive.namelist() if not n.endswith("/")]
        top_level = {name.split("/")[0] for name in names}
        missing = dependencies.top_level_names(runtime) - top_level
        if missing:
            raise RuntimeError(
                f"Zappa packaged another environment ({', '.join(sorted(missing))} missing): "
                "run it from the project's virtualenv (VIRTUAL_ENV set, e.g. by activating it)."
            )
        removed = dependencies.surplus(top_level, runtime, available)
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
