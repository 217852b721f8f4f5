"""WSGI entry point: what Zappa's handler serves on Lambda, and what `make run` serves locally."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "django_app.settings")

application = get_wsgi_application()
