"""Make sure a superuser exists, and print its login: `make run`'s admin.

The password comes from DJANGO_SUPERUSER_PASSWORD (the variable Django's own
`createsuperuser --noinput` reads), which the local system keeps in var/local/ so the
login stays the same across restarts. It is set only when it differs from the current
one: setting it again would change the hash and log out every session of the user.
Without the variable a fresh password is made, as before.
"""

import os
import secrets
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandParser


class Command(BaseCommand):
    help = "Create a local superuser (or bring back its password) and print its login."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--username", default="admin")
        parser.add_argument("--email", default="admin@example.com")

    def handle(self, *args: Any, **options: Any) -> None:
        password = os.environ.get("DJANGO_SUPERUSER_PASSWORD") or secrets.token_urlsafe(12)
        user, _ = get_user_model().objects.get_or_create(
            username=options["username"], defaults={"email": options["email"]}
        )
        changed = not (user.is_staff and user.is_superuser and user.is_active)
        user.is_staff = user.is_superuser = user.is_active = True
        if not user.check_password(password):
            user.set_password(password)
            changed = True
        if changed:
            user.save()
        self.stdout.write(f"admin user: {user.username}  password: {password}")
