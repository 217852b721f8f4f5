"""The daily digest of failed tasks: what it reports, and when it stays silent."""

from datetime import UTC, datetime, timedelta

from django.tasks import TaskResultStatus, default_task_backend
from moto.ses.models import ses_backends

from django_app.maintenance import digest
from sqs_tasks.testing import drain_queue
from tests import sample_tasks
from tests.helpers import REGION
from tests.maintenance.conftest import SENDER, now, set_result_attribute
from tests.maintenance.scheduling import run_schedule

DAY = timedelta(days=1)


def fail_some():
    """Two tasks that fail for good (one at once, one after three attempts), one success."""
    failed = [sample_tasks.fails_with_value_error.enqueue(), sample_tasks.always_flaky.enqueue()]
    sample_tasks.add.enqueue(1, 1)
    drain_queue("default")
    for result in failed:
        assert default_task_backend.get_result(result.id).status == TaskResultStatus.FAILED
    return failed


def move_failure_to(task_id, moment):
    set_result_attribute(task_id, "finished_at", moment.isoformat())  # the index's sort key


def test_collects_the_days_failures(aws):
    at_once, flaky = fail_some()
    found = digest.collect(now().date())
    assert found.total == 2
    assert dict(found.by_task) == {
        "tests.sample_tasks.fails_with_value_error": 1,
        "tests.sample_tasks.always_flaky": 1,
    }
    by_id = {failure.id: failure for failure in found.latest}
    assert by_id[flaky.id].attempts == 3 and by_id[at_once.id].attempts == 1
    assert by_id[flaky.id].exception == "tests.sample_tasks.Flaky"
    assert by_id[at_once.id].message == "bad input, retrying will not help"


def test_the_day_is_midnight_to_midnight_utc(aws):
    at_once, flaky = fail_some()
    midnight = datetime.combine(now().date(), datetime.min.time(), tzinfo=UTC)
    move_failure_to(at_once.id, midnight - timedelta(microseconds=1))
    move_failure_to(flaky.id, midnight)
    yesterday = digest.collect(now().date() - DAY)
    today = digest.collect(now().date())
    assert [f.id for f in yesterday.latest] == [at_once.id]
    assert [f.id for f in today.latest] == [flaky.id]


def test_the_day_reported_is_the_one_before_the_tick():
    assert str(digest.day_before(datetime(2026, 11, 24, 6, tzinfo=UTC))) == "2026-11-23"


def test_the_email_names_each_failure_and_how_to_look_closer(aws, settings):
    at_once, flaky = fail_some()
    found = digest.collect(now().date())
    assert found.subject == f"[app-test] 2 tasks failed on {now().date()}"
    body = found.body()
    assert "2 tasks failed for good on" in body
    assert "tests.sample_tasks.always_flaky [default], 3 attempts" in body
    assert "tests.sample_tasks.Flaky: downstream said no" in body
    assert f"id {at_once.id}" in body and f"id {flaky.id}" in body
    assert "manage.py tasks_show <id>" in body and "&lt;" not in body


def test_sent_through_ses(ses, operators):
    fail_some()
    found = digest.collect(now().date())
    assert digest.send(found, operators) is True
    (sent,) = ses_backends["123456789012"][REGION].sent_messages
    assert sent.source == SENDER
    assert set(sent.destinations) == set(operators)
    assert f"Subject: {found.subject}" in sent.raw_data


def test_silent_without_failures_or_recipients(aws, mailoutbox, operators):
    quiet = digest.collect(now().date())
    assert quiet.total == 0 and digest.send(quiet, operators) is False
    fail_some()
    found = digest.collect(now().date())
    assert digest.send(found, []) is False
    assert mailoutbox == []


def test_runs_from_its_schedule(aws, mailoutbox, operators):
    fail_some()
    tomorrow_morning = datetime.combine(now().date() + DAY, datetime.min.time(), UTC).replace(
        hour=6
    )
    result = run_schedule("failed-tasks-digest", tomorrow_morning)
    assert result.status == TaskResultStatus.SUCCESSFUL, result.errors
    assert result.return_value == {"day": str(now().date()), "failed": 2, "sent": True}
    (email,) = mailoutbox
    assert email.to == operators and email.subject.endswith(f"failed on {now().date()}")


def test_a_day_without_failures_sends_nothing(aws, mailoutbox, operators):
    result = run_schedule("failed-tasks-digest", now())
    assert result.status == TaskResultStatus.SUCCESSFUL, result.errors
    assert result.return_value["sent"] is False and mailoutbox == []
