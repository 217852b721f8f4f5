from django.apps import AppConfig


class JobsConfig(AppConfig):
    """Background tasks as a user sees them: their list, status, progress and retry."""

    name = "django_app.jobs"
    label = "jobs"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.tasks.signals import task_finished

        from django_app.jobs import in_flight

        task_finished.connect(in_flight.record_finished, dispatch_uid="jobs.in_flight")
