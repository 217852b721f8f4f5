"""Settings for the django-tasks-db comparison: the database backend as the default task
backend, a SQLite file (BENCH_DB_PATH) as the database, and nothing else. The project's
own apps stay out: their tasks use our backend's options (max_attempts, retry_on), which
Django's plain Task refuses."""

import os

SECRET_KEY = os.environ["DJANGO_SECRET_KEY"]
DEBUG = False
USE_TZ = True
INSTALLED_APPS = ["django_tasks_db"]
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ["BENCH_DB_PATH"],
        # Several workers share the file: wait for a lock rather than fail at once.
        "OPTIONS": {"timeout": 20},
    }
}
