from django.tasks import TaskResultStatus

from sqs_tasks.testing import drain_queue
from tests import sample_tasks


def test_enqueue_run_and_read_back(aws):
    result = sample_tasks.add.enqueue(2, 3)
    assert result.status == TaskResultStatus.READY
    report = drain_queue("default")
    assert report.processed == 1 and report.returned == []
    done = sample_tasks.add.get_result(result.id)
    assert done.status == TaskResultStatus.SUCCESSFUL
    assert done.return_value == 5
    assert len(done.worker_ids) == 1
