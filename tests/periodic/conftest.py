import pytest

from sqs_tasks.periodic import periodic_tasks
from sqs_tasks.periodic.registry import declare
from tests.periodic import tasks


@pytest.fixture
def scheduled():
    """Two periodic tasks in the real registry for one test: one enabled, one disabled."""
    declared = [
        declare("echo-tick", tasks.echo_tick, schedule="cron(0 3 * * ? *)"),
        declare("quiet", tasks.no_arguments, schedule="rate(1 hour)", enabled=False),
    ]
    for periodic in declared:
        periodic_tasks.register(periodic)
    yield {periodic.name: periodic for periodic in declared}
    for periodic in declared:
        periodic_tasks.unregister(periodic.name)
