"""How many sign-ups one address may try in an hour.

Each sign-up can mail a confirmation link, and each account may start reports: without
a limit, one script could create accounts by the thousand (or mail an address a link
per account). Attempts are counted per client address and clock hour in the shared cache
(the database's, by default), so every Lambda instance sees the same count. Failed
logins are django-axes' business; this is only the sign-up form's.
"""

import time

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest

from django_app.accounts.client_ip import client_ip

WINDOW = 3600  # seconds


def allow_signup(request: HttpRequest) -> bool:
    """Count this sign-up attempt; False once the address has used up its hour."""
    window = int(time.time()) // WINDOW
    key = f"accounts:signup:{client_ip(request)}:{window}"
    cache.add(key, 0, timeout=WINDOW)
    try:
        attempts = cache.incr(key)
    except ValueError:  # expired between add and incr: this is the first of a new hour
        cache.set(key, 1, timeout=WINDOW)
        attempts = 1
    return attempts <= settings.ACCOUNTS_SIGNUPS_PER_HOUR
