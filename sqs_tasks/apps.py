from django.apps import AppConfig


class SQSTasksConfig(AppConfig):
    name = "sqs_tasks"
    verbose_name = "Tasks on SQS"

    def ready(self) -> None:
        # `manage.py check --tag tasks`: the tasks against template.yaml.
        from sqs_tasks import checks  # noqa: F401
