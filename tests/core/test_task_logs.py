"""What a task writes to the logs CloudWatch bills by the byte (issue 14)."""

import logging

from sqs_tasks.testing import drain_queue
from tests import sample_tasks


def test_djangos_own_task_lines_are_left_out_but_a_task_failed_for_good_is_logged(aws, caplog):
    """Django's INFO lines (state=RUNNING, state=SUCCESSFUL) repeat the worker's own
    "task attempt finished" line: settings leave them out, a third of the log bytes a task
    costs. Its ERROR line for a task that failed for good stays."""
    sample_tasks.add.enqueue(1, 2)
    failed = sample_tasks.fails_with_value_error.enqueue()
    drain_queue("default")
    django_lines = [record for record in caplog.records if record.name == "django.tasks"]
    assert [record.levelno for record in django_lines] == [logging.ERROR]
    assert failed.id in django_lines[0].getMessage()
    assert any(record.getMessage() == "task attempt finished" for record in caplog.records)
