"""Throughput of django-tasks-db, the `django.tasks` backend users pick when they have no
queue: the same no-op task, enqueued in the same bursts, run by its `db_worker` command on
this machine, with a SQLite file as the database.

One worker process per core (two here): more only fight over SQLite's single writer lock.
Each worker polls every 0.1 s when idle (`--interval 0.1`; its default is 1 s).
"""

import os
import sqlite3
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from bench import throughput

SETTINGS = "bench.tasks_db_settings"
TABLE = "django_tasks_database_dbtaskresult"  # the app label is django_tasks_database
WARM_UP = 20
TIMEOUT = 300.0


def measure(tasks: int, runs: int, workers: int | None = None) -> throughput.Throughput:
    workers = workers or os.cpu_count() or 2
    with tempfile.TemporaryDirectory(prefix="bench-tasks-db-") as scratch:
        database = Path(scratch) / "db.sqlite3"
        env = {
            **throughput.clean_environment(),
            "DJANGO_SETTINGS_MODULE": SETTINGS,
            "BENCH_DB_PATH": str(database),
            "DJANGO_SECRET_KEY": "bench-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz",
            "DJANGO_DEBUG": "false",
            "PYTHONPATH": str(throughput.ROOT),
        }
        _manage(env, "migrate", "--noinput", "-v", "0")
        processes = [_worker(env) for _ in range(workers)]
        try:
            results = _ResultsTable(database)
            throughput.burst(WARM_UP, env, results, TIMEOUT)
            bursts = [throughput.burst(tasks, env, results, TIMEOUT) for _ in range(runs)]
        finally:
            for process in processes:
                process.terminate()
            for process in processes:
                process.wait(timeout=30)
    return throughput.Throughput.of(
        tasks,
        bursts,
        f"django-tasks-db: {workers} `db_worker` processes (interval 0.1 s), SQLite file",
    )


def _manage(env: dict[str, str], *args: str) -> None:
    subprocess.run([sys.executable, "manage.py", *args], cwd=throughput.ROOT, env=env, check=True)


def _worker(env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        [
            sys.executable,
            "manage.py",
            "db_worker",
            "--interval",
            "0.1",
            "--no-startup-delay",
            "--no-reload",
            "-v",
            "0",
        ],
        cwd=throughput.ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


class _ResultsTable:
    """django-tasks-db's results table, read directly (SQLite stores UTC, naive)."""

    def __init__(self, database: Path) -> None:
        self.database = database

    def _rows(self, sql: str, began: datetime) -> list[tuple]:
        since = began.astimezone(UTC).replace(tzinfo=None).isoformat(" ")
        with sqlite3.connect(self.database, timeout=20) as connection:
            return connection.execute(sql, (since,)).fetchall()

    def count_since(self, began: datetime) -> int:
        sql = f"SELECT count(*) FROM {TABLE} WHERE status = 'SUCCESSFUL' AND enqueued_at >= ?"
        return self._rows(sql, began)[0][0]

    def times_since(self, began: datetime) -> throughput.Times:
        sql = (
            f"SELECT enqueued_at, finished_at FROM {TABLE} "
            "WHERE status = 'SUCCESSFUL' AND enqueued_at >= ?"
        )
        return [(_moment(e), _moment(f)) for e, f in self._rows(sql, began)]


def _moment(value: str) -> datetime:
    return datetime.fromisoformat(value).replace(tzinfo=UTC)
