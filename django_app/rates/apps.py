from django.apps import AppConfig


class RatesConfig(AppConfig):
    """Exchange rates from a slow, rate-limited external API, refreshed by a task."""

    name = "django_app.rates"
    label = "rates"
    default_auto_field = "django.db.models.BigAutoField"
