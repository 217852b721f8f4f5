"""Bytecode that Lambda's Python uses as it is.

Lambda unpacks a function's zip into a read-only /var/task, and a zip keeps no reliable
modification times (Zappa dates every entry 1980-01-01). A usual .pyc records its source's
mtime and size, so none of them match there and every cold start recompiles each module it
imports, in memory, every time. An *unchecked-hash* .pyc (PEP 552) is used without looking
at the source at all: right for code that cannot change under it.

It must come from the runtime's Python version (3.12): another version's bytecode is
ignored (and, with no writable cache, recompiled on each cold start).
"""

import importlib.util
import marshal
import sys

LAMBDA_PYTHON = (3, 12)
_UNCHECKED_HASH = (0b01).to_bytes(4, "little")  # PEP 552 flags: hash-based, do not check
LAMBDA_ROOT = "/var/task"


def check_interpreter() -> None:
    if sys.version_info[:2] != LAMBDA_PYTHON:
        raise RuntimeError(
            f"Lambda runs Python {'.'.join(map(str, LAMBDA_PYTHON))}; this is "
            f"{sys.version_info.major}.{sys.version_info.minor}, whose bytecode it would ignore."
        )


def cache_path(source_path: str) -> str:
    """Where the import system looks for the .pyc of a module (posix path in, posix out)."""
    folder, _, name = source_path.rpartition("/")
    cached = importlib.util.cache_from_source(name).replace("\\", "/")
    return f"{folder}/{cached}" if folder else cached


def compile_source(source: bytes, source_path: str) -> bytes:
    """The unchecked-hash .pyc of a module at source_path (relative to the package root).

    Tracebacks name it as Lambda will see it, under /var/task. Raises SyntaxError."""
    code = compile(source, f"{LAMBDA_ROOT}/{source_path}", "exec", dont_inherit=True)
    return (
        importlib.util.MAGIC_NUMBER
        + _UNCHECKED_HASH
        + importlib.util.source_hash(source)
        + marshal.dumps(code)
    )
