"""Expired sessions: Django's `clearsessions`, whatever the session engine.

Database-backed sessions grow without end otherwise; Django deletes an expired session
only when its own browser comes back.
"""

from django.conf import settings
from django.core.management import call_command
from django.utils import timezone

DATABASE_ENGINES = {
    "django.contrib.sessions.backends.db",
    "django.contrib.sessions.backends.cached_db",
}


def clear_expired() -> int | None:
    """Run clearsessions; returns how many sessions had expired when it started, for a
    database engine (None for engines that cannot count them)."""
    expired = None
    if settings.SESSION_ENGINE in DATABASE_ENGINES:
        from django.contrib.sessions.models import Session

        expired = Session.objects.filter(expire_date__lt=timezone.now()).count()
    call_command("clearsessions")
    return expired
