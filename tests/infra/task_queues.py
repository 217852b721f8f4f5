"""The SQS task queues template.yaml must declare: the settings' queues and their priority
lanes (<queue>-<lane>), and the logical ids the Fn::ForEach loop gives them (&{Queue}:
the name without its hyphens)."""

import re

from django.conf import settings


def sqs_task_queues() -> list[str]:
    options = settings.TASKS["default"]["OPTIONS"]
    queues = list(settings.TASKS["default"]["QUEUES"])
    lanes = [
        f"{queue}-{lane}"
        for queue, by_lane in options.get("PRIORITY_LANES", {}).items()
        for lane in by_lane
    ]
    return queues + lanes


def logical(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9]", "", name)
