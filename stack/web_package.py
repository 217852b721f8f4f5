"""The web stage's package: what it must hold, and finishing the zip Zappa writes.

Zappa zips the project plus *everything* in the virtualenv's site-packages, less the
names in zappa_settings.json's `exclude`; whatever else lies in the project folder goes
too (a `.env`, the local system's var/ with its secret key and caught emails). So the
finished zip keeps only what the allow-list names (stack.allowlist.WEB_KEEP), after
checking that every distribution the web stage imports is there: requirements.txt and
its dependencies, less what the Lambda runtime provides (stack.dependencies), plus the
part of Zappa its handler imports on Lambda. It also gives the stage the task queues
template.yaml declares (TASK_QUEUES, which settings read), and bytecode Lambda uses as is.
"""

import zipfile
from collections.abc import Iterator
from pathlib import Path

from sqs_tasks.infra.task_queues import queue_names
from stack import allowlist, dependencies
from stack.artifact import ROOT, write_zip
from stack.bytecode import cache_path, check_interpreter, compile_source

# What Zappa's handler imports on Lambda; Zappa's own dependencies only deploy.
ZAPPA_HANDLER_NEEDS = ("werkzeug", "durationpy")
ZAPPA_SETTINGS = "zappa_settings.py"


def runtime_distributions() -> dependencies.Distributions:
    """What the web stage imports, from the virtualenv Zappa packages."""
    available = dependencies.installed()
    names = [*dependencies.requirement_names(ROOT / "requirements.txt"), *ZAPPA_HANDLER_NEEDS]
    return {**dependencies.needed(names, available), "zappa": available["zappa"]}


def finish(zip_path: Path, template: Path = ROOT / "template.yaml") -> list[str]:
    """Rewrite Zappa's zip in place: the allow-list's files only, the task queues in the
    stage's settings, unchecked-hash bytecode.

    Returns the top-level names it left out entirely (`exclude` could skip copying them)."""
    check_interpreter()
    scratch = zip_path.with_name(f"{zip_path.name}.finishing")
    with zipfile.ZipFile(zip_path) as archive:
        names = [n for n in archive.namelist() if not n.endswith("/")]
        top_level = {name.split("/")[0] for name in names}
        missing = dependencies.top_level_names(runtime_distributions()) - top_level
        if missing:
            raise RuntimeError(
                f"Zappa packaged another environment ({', '.join(sorted(missing))} missing): "
                "run it from the project's virtualenv (VIRTUAL_ENV set, e.g. by activating it)."
            )
        kept = sorted(n for n in names if allowlist.allowed(n, allowlist.WEB_KEEP))
        settings = stage_settings(archive.read(ZAPPA_SETTINGS), queue_names(template))
        entries = list(_with_bytecode(archive, kept, {ZAPPA_SETTINGS: settings}))
    write_zip(entries, scratch)
    scratch.replace(zip_path)
    return sorted(top_level - {name.split("/")[0] for name, _ in entries})


def stage_settings(source: bytes, task_queues: list[str]) -> bytes:
    """Zappa's settings module with TASK_QUEUES among the variables its handler exports
    before Django starts: the web stage has no template.yaml to read them from."""
    line = f"ENVIRONMENT_VARIABLES[{'TASK_QUEUES'!r}] = {','.join(task_queues)!r}\n"
    return source.rstrip(b"\n") + b"\n" + line.encode()


def _with_bytecode(
    archive: zipfile.ZipFile, names: list[str], replaced: dict[str, bytes]
) -> Iterator[tuple[str, bytes]]:
    """The entries, each module followed by its fresh .pyc (the allow-list keeps none)."""
    for name in names:
        data = replaced.get(name) or archive.read(name)
        yield name, data
        if name.endswith(".py"):
            yield cache_path(name), compile_source(data, name)
