from django.apps import AppConfig


class JobsConfig(AppConfig):
    """Background tasks as a user sees them: their list, status, progress and retry."""

    name = "django_app.jobs"
    label = "jobs"
    default_auto_field = "django.db.models.BigAutoField"
