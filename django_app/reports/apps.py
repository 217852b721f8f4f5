from django.apps import AppConfig


class ReportsConfig(AppConfig):
    """CSV uploads straight to S3, and the reports a heavy task builds from them."""

    name = "django_app.reports"
    label = "reports"
    default_auto_field = "django.db.models.BigAutoField"
