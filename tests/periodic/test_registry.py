"""Declaring periodic tasks: everything is checked when the declaring module loads."""

import re
import textwrap
from datetime import UTC, datetime

import pytest

from sqs_tasks.periodic import PeriodicRegistry, PeriodicTaskError, periodic, register_periodic
from sqs_tasks.periodic.registry import declare
from tests.periodic import tasks


def test_the_decorator_registers_and_returns_the_task():
    registry = PeriodicRegistry()
    registry._discovered = True  # this registry holds only what the test puts in it
    decorated = periodic("nightly", schedule="cron(0 3 * * ? *)", registry=registry)(
        tasks.echo_tick
    )
    assert decorated is tasks.echo_tick
    (declared,) = registry.all()
    assert (declared.name, declared.expression, declared.timezone, declared.enabled) == (
        "nightly",
        "cron(0 3 * * ? *)",
        "UTC",
        True,
    )
    assert registry.get("nightly") is declared and registry.get("other") is None


def test_a_bad_expression_stops_the_module_from_loading(tmp_path, monkeypatch):
    (tmp_path / "bad_schedules.py").write_text(
        textwrap.dedent(
            """
            from django.tasks import task
            from sqs_tasks.periodic import PeriodicRegistry, periodic

            @periodic("nightly", schedule="cron(0 3 * * * *)", registry=PeriodicRegistry())
            @task
            def nightly() -> None: ...
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(PeriodicTaskError) as caught:
        __import__("bad_schedules")
    assert str(caught.value) == (
        "Periodic task 'nightly': Invalid schedule expression 'cron(0 3 * * * *)': exactly "
        "one of day-of-month and day-of-week must be '?' (got '*' and '*'), "
        "e.g. 'cron(0 3 * * ? *)'"
    )


@pytest.mark.parametrize(
    ("name", "task", "options", "message"),
    [
        ("Nightly", tasks.echo_tick, {}, "use 1-28 lower-case letters"),
        ("-nightly", tasks.echo_tick, {}, "use 1-28 lower-case letters"),
        ("a" * 29, tasks.echo_tick, {}, "use 1-28 lower-case letters"),
        ("nightly", tasks.echo_tick.func, {}, "is not a task of the SQS backend"),
        ("nightly", tasks.needs_an_argument, {}, "requires value, but a schedule passes no"),
        ("nightly", tasks.echo_tick, {"timezone": "Mars/Olympus"}, "unknown time zone"),
        ("nightly", tasks.echo_tick, {"enabled": "yes"}, "enabled must be True or False"),
        ("nightly", tasks.echo_tick, {"schedule": "rate(1 hours)"}, "write rate(1 hour)"),
    ],
)
def test_refused_declarations(name, task, options, message):
    with pytest.raises(PeriodicTaskError, match=re.escape(message)):
        declare(name, task, **{"schedule": "cron(0 3 * * ? *)", **options})


def test_one_name_cannot_mean_two_tasks():
    registry = PeriodicRegistry()
    register_periodic("nightly", tasks.echo_tick, schedule="rate(1 day)", registry=registry)
    # Importing the same declaration again (a reloaded module) is harmless...
    register_periodic("nightly", tasks.echo_tick, schedule="rate(1 day)", registry=registry)
    # ...but another task, or another schedule, under that name is a mistake.
    with pytest.raises(PeriodicTaskError, match="declared twice"):
        register_periodic("nightly", tasks.no_arguments, schedule="rate(1 day)", registry=registry)


def test_next_runs_in_the_tasks_time_zone():
    nightly = declare(
        "nightly", tasks.no_arguments, schedule="cron(0 3 * * ? *)", timezone="Europe/Paris"
    )
    runs = nightly.next_runs(datetime(2026, 11, 23, 20, tzinfo=UTC), 2)
    assert [run.isoformat() for run in runs] == [
        "2026-11-24T03:00:00+01:00",
        "2026-11-25T03:00:00+01:00",
    ]


def test_only_tasks_that_ask_for_it_receive_the_tick():
    assert declare("a", tasks.echo_tick, schedule="rate(1 day)").takes_scheduled_time
    assert not declare("b", tasks.no_arguments, schedule="rate(1 day)").takes_scheduled_time


def test_the_real_registry_discovers_the_apps_tasks_modules():
    from sqs_tasks.periodic import periodic_tasks

    maintenance = {
        p.name
        for p in periodic_tasks.all()
        if p.task.module_path.startswith("django_app.maintenance.")
    }
    assert maintenance == {
        "clear-expired-sessions",
        "remove-stale-uploads",
        "failed-tasks-digest",
        "queue-health",
        "backup-database",
    }
