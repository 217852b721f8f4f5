from django.apps import AppConfig


class MaintenanceConfig(AppConfig):
    name = "django_app.maintenance"
    label = "maintenance"
    verbose_name = "Scheduled maintenance"
