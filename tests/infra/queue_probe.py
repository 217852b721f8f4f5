"""What each part of the project sees of the task queues, as one JSON object on stdout.

Run by tests/infra/test_adding_a_queue.py inside a copy of the project whose template.yaml
declares one more queue: `python -m tests.infra.queue_probe QUEUE`.
"""

import json
import os
import subprocess
import sys
import warnings

os.environ.update(
    {
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }
)
os.environ.pop("TASK_QUEUES", None)  # settings read the template, as in a checkout
os.environ.pop("AWS_ENDPOINT_URL", None)

import boto3
import django

django.setup()

from django.conf import settings  # noqa: E402
from django.tasks import task  # noqa: E402
from moto import mock_aws  # noqa: E402

from sqs_tasks import checks  # noqa: E402
from sqs_tasks.periodic import periodic_tasks  # noqa: E402
from stack import sam  # noqa: E402
from stack.local import topology  # noqa: E402
from stack.template import ROOT, TEMPLATE, load_template, resources_of_type  # noqa: E402
from tests.infra.conftest import translate_offline  # noqa: E402


def translated_view(queue: str) -> dict:
    translated = translate_offline(load_template())
    mine = {k: r["Type"] for k, r in translated["Resources"].items() if queue in k}
    (mapping,) = [
        r["Properties"]
        for r in resources_of_type(translated, "AWS::Lambda::EventSourceMapping").values()
        if r["Properties"]["EventSourceArn"] == {"Fn::GetAtt": [f"Queue{queue}", "Arn"]}
    ]
    queries = resources_of_type(translated, "AWS::Logs::QueryDefinition")
    return {
        "resources": mine,
        "mapping": {k: mapping.get(k) for k in ("FunctionName", "FunctionResponseTypes")},
        "queries_read_workers": all(
            {"Ref": "WorkersLogGroup"} in q["Properties"]["LogGroupNames"] for q in queries.values()
        ),
        "outputs": sorted(k for k in translated["Outputs"] if queue in k),
    }


def deployed_view(queue: str) -> dict:
    with mock_aws(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        session = boto3.session.Session(region_name="us-east-1")
        outputs = sam.deploy(session)
        sqs, iam = session.client("sqs"), session.client("iam")
        url = sqs.get_queue_url(QueueName=f"app-dev-{queue}")["QueueUrl"]
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        functions = topology.functions(session, None, {})
        mappings = topology.queue_mappings(session, None, functions)
        (mapping,) = [m for m in mappings if m.queue_arn.endswith(f":app-dev-{queue}")]
        environment = session.client("lambda").get_function_configuration(
            FunctionName=f"app-dev-worker-{queue}"
        )["Environment"]["Variables"]
        return {
            "task_queue_names": outputs["TaskQueueNames"],
            "redrive": json.loads(attributes["RedrivePolicy"]),
            "retention": attributes["MessageRetentionPeriod"],
            "topology": {
                "function": mapping.function.name,
                "timeout": mapping.function.timeout,
                "batch_size": mapping.batch_size,
                "batching_window": mapping.batching_window,
                "max_concurrency": mapping.max_concurrency,
                "reports_item_failures": mapping.reports_item_failures,
                "TASK_QUEUES": environment["TASK_QUEUES"],
            },
            "policies_naming_it": {
                role: sorted(
                    name
                    for name in iam.list_role_policies(RoleName=role)["PolicyNames"]
                    if queue in name
                )
                for role in ("app-dev-web", "app-dev-scheduler", "app-dev-worker-default")
            },
        }


def send() -> None:
    """A task on the new queue (made in checks_view)."""


def checks_view(queue: str) -> dict:
    task(queue_name=queue)(send)  # Django refuses a queue that settings do not list
    periodic_tasks.autodiscover()
    too_long = checks.TaskSettings(
        path="probe.too_long", queue_name=queue, timeout=3600, max_attempts=3, deadline_margin=5
    )
    return {
        "registered_check": [m.id for m in checks.check_tasks_against_template()],
        "a_task_too_long_for_its_worker": [
            m.id
            for m in checks.problems(
                TEMPLATE, [too_long], settings.TASKS["default"]["QUEUES"], periodic_tasks.all()
            )
        ],
        "make_target": subprocess.run(
            ["make", "--dry-run", f"build-WorkerFunction{queue}", "ARTIFACTS_DIR=/tmp/x"],
            cwd=ROOT,
            capture_output=True,
            text=True,
        ).returncode,
    }


def main() -> None:
    queue = sys.argv[1]
    view = {
        "settings_queues": settings.TASKS["default"]["QUEUES"],
        "translated": translated_view(queue),
        "deployed": deployed_view(queue),
        "checks": checks_view(queue),
    }
    print(json.dumps(view))


if __name__ == "__main__":
    main()
