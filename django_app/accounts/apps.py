from django.apps import AppConfig


class AccountsConfig(AppConfig):
    """Sign-up, login and logout on Django's own auth (no models of its own)."""

    name = "django_app.accounts"
    label = "accounts"
