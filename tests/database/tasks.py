"""Tasks that touch the database, for the connection tests. Module level, as Django requires."""

import time

from django.contrib.auth import get_user_model
from django.db import connection
from django.tasks import task


@task
def backend_pid(pause: float = 0.0) -> int:
    """Query the database, hold the connection for `pause` seconds, and say which server
    process served it."""
    get_user_model().objects.count()
    time.sleep(pause)
    return connection.connection.info.backend_pid
