"""One workflow: its status, progress, the failed step, and every step's status."""

from dataclasses import asdict
from typing import Any

from django.core.management.base import CommandError, CommandParser
from django.tasks.exceptions import TaskResultDoesNotExist

from sqs_tasks.management.base import OperatorCommand, table
from sqs_tasks.workflows import get_workflow


class Command(OperatorCommand):
    help = "Show a workflow: status, progress, the step that failed, and each step."

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        parser.add_argument("workflow_id")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            workflow = get_workflow(options["workflow_id"], alias=options["backend"])
        except TaskResultDoesNotExist:
            raise CommandError(f"No workflow {options['workflow_id']!r}.") from None
        steps = [asdict(step) for step in workflow.steps]
        data = {
            "id": workflow.id,
            "status": workflow.status,
            "steps_finished": workflow.steps_finished,
            "steps_known": workflow.steps_known,
            "failed_step_id": workflow.failed_step_id,
            "return_value": workflow.return_value if workflow.status == "SUCCESSFUL" else None,
            "steps": steps,
        }
        human = "\n".join(
            [
                f"{'id':>14}: {workflow.id}",
                f"{'status':>14}: {workflow.status}",
                f"{'progress':>14}: {workflow.steps_finished} of {workflow.steps_known} steps",
                f"{'failed step':>14}: {workflow.failed_step_id or ''}",
                "",
                table(steps, ["path", "task_id", "task_path", "status", "attempts"]),
            ]
        )
        self.emit(data, options, human)
