#!/usr/bin/env python
"""Django's command-line utility for administrative tasks."""

import os
import sys


def use_the_local_system() -> None:
    """On a checkout with `make run` running and no configuration of its own (no
    DJANGO_SECRET_KEY, DJANGO_SECRET_ID or DJANGO_DEBUG), commands run against that local
    system, as `python -m stack.local manage ...` does. Deployed, stack/ is not shipped
    and nothing changes."""
    try:
        from stack.local.environment import adopt_running_system
    except ImportError:
        return
    adopt_running_system()


def main() -> None:
    use_the_local_system()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "django_app.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
