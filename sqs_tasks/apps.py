from django.apps import AppConfig


class SQSTasksConfig(AppConfig):
    name = "sqs_tasks"
    verbose_name = "Tasks on SQS"

    def ready(self) -> None:
        # `manage.py check --tag tasks`: the tasks against template.yaml.
        from sqs_tasks import checks, snapstart  # noqa: F401

        # Every Lambda entry point (workers, scheduler, Zappa's web handler) sets Django up
        # during its init: the SnapStart hooks are registered there, before the snapshot.
        snapstart.register()
