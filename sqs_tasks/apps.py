from django.apps import AppConfig


class SQSTasksConfig(AppConfig):
    name = "sqs_tasks"
    verbose_name = "Tasks on SQS"
