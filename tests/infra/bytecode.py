"""Checking that .pyc files are ones Lambda's Python uses as they are (PEP 552)."""

import importlib.util
from collections.abc import Callable, Iterable

UNCHECKED_HASH_FLAGS = 0b01  # hash-based, check_source off


def bytecode_problems(names: Iterable[str], read: Callable[[str], bytes]) -> list[str]:
    """Each .py without an unchecked-hash .pyc of this Python, compiled from that very source.

    names are the files of a tree or zip (posix paths); read returns a file's bytes.
    """
    names = set(names)
    tag = importlib.util.cache_from_source("x.py").rsplit("/", 1)[-1].split(".")[1]
    problems = []
    for name in sorted(names):
        if not name.endswith(".py"):
            continue
        folder, _, module = name.rpartition("/")
        cached = f"{folder}/__pycache__/{module[:-3]}.{tag}.pyc".lstrip("/")
        if cached not in names:
            problems.append(f"{name}: no {cached}")
            continue
        header = read(cached)[:16]
        if header[:4] != importlib.util.MAGIC_NUMBER:
            problems.append(f"{cached}: another Python's bytecode")
        elif int.from_bytes(header[4:8], "little") != UNCHECKED_HASH_FLAGS:
            problems.append(f"{cached}: checked against the source's timestamp or hash")
        elif header[8:16] != importlib.util.source_hash(read(name)):
            problems.append(f"{cached}: compiled from other source")
    return problems
