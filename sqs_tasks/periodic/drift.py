"""Code vs template.yaml: every periodic task has exactly one schedule, and they agree.

Drift is either side changed without the other: a task nobody schedules (it never runs),
a schedule naming nothing (the scheduler refuses it at every tick), or an expression,
time zone or enabled state that differs (it runs at a time the code does not say).
"""

import json
from collections import defaultdict
from collections.abc import Sequence

from sqs_tasks.periodic.errors import InvalidScheduleExpression
from sqs_tasks.periodic.expressions import normalized, parse_schedule
from sqs_tasks.periodic.registry import PeriodicTask
from sqs_tasks.periodic.template import DeclaredSchedule
from sqs_tasks.periodic.ticks import PLACEHOLDER


def find_drift(tasks: Sequence[PeriodicTask], declared: Sequence[DeclaredSchedule]) -> list[str]:
    """Every disagreement, as a sentence that says where and what to change."""
    problems = [f"{d.where}: {problem}" for d in declared for problem in d.problems]
    by_name: dict[str, list[DeclaredSchedule]] = defaultdict(list)
    for schedule in declared:
        if schedule.name:
            by_name[schedule.name].append(schedule)
    code = {periodic.name: periodic for periodic in tasks}
    for name, schedules in sorted(by_name.items()):
        if len(schedules) > 1:
            places = ", ".join(s.where for s in schedules)
            problems.append(f"schedule {name!r} is declared more than once: {places}")
        if name not in code:
            problems.append(
                f"{schedules[0].where}: schedule {name!r} names no registered periodic task"
            )
            continue
        problems += _differences(code[name], schedules[0])
    for name, periodic in sorted(code.items()):
        if name not in by_name:
            problems.append(
                f"periodic task {name!r} ({periodic.task.module_path}) has no schedule in "
                f"template.yaml; add to the scheduler function's Events:\n{suggestion(periodic)}"
            )
    return problems


def _differences(periodic: PeriodicTask, schedule: DeclaredSchedule) -> list[str]:
    where = f"{schedule.where} ({periodic.name!r})"
    problems = []
    if schedule.expression is not None:
        try:
            parse_schedule(schedule.expression)
        except InvalidScheduleExpression as error:
            problems.append(f"{where}: {error}")
        if normalized(schedule.expression) != normalized(periodic.expression):
            problems.append(
                f"{where}: expression {schedule.expression!r} differs from the code's "
                f"{periodic.expression!r}"
            )
    if schedule.timezone is not None and schedule.timezone != periodic.timezone:
        problems.append(
            f"{where}: time zone {schedule.timezone!r} differs from the code's "
            f"{periodic.timezone!r}"
        )
    if schedule.enabled is not None and schedule.enabled != periodic.enabled:
        state = {True: "enabled", False: "disabled"}
        problems.append(
            f"{where}: {state[schedule.enabled]} in the template, {state[periodic.enabled]} "
            "in the code"
        )
    return problems


def suggestion(periodic: PeriodicTask) -> str:
    """The ScheduleV2 event to paste under the scheduler function's Events."""
    logical_id = "".join(part.capitalize() for part in periodic.name.split("-"))
    state = "ENABLED" if periodic.enabled else "DISABLED"
    payload = json.dumps({"schedule": periodic.name, "scheduled_time": PLACEHOLDER})
    return "\n".join(
        [
            f"        {logical_id}:",
            "          Type: ScheduleV2",
            "          Properties:",
            f"            Name: !Sub ${{AppName}}-${{Stage}}-{periodic.name}",
            f"            ScheduleExpression: {periodic.expression}",
            f"            ScheduleExpressionTimezone: {periodic.timezone}",
            f"            State: {state}",
            "            RoleArn: !GetAtt ScheduleInvokeRole.Arn",
            "            RetryPolicy:",
            "              MaximumRetryAttempts: 3",
            "              MaximumEventAgeInSeconds: 3600",
            "            DeadLetterConfig:",
            "              Arn: !GetAtt SchedulesDeadLetterQueue.Arn",
            f"            Input: '{payload}'",
        ]
    )
