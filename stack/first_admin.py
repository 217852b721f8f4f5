"""The first admin of a deployed stage, with no prompt: `createsuperuser --noinput` in the web
function, through `zappa invoke <stage> --raw`.

`zappa manage` cannot pass environment variables, and the function's own environment is no
place for a password (it is readable by anyone who may read the function's configuration).
So this prints the Python that Zappa's handler runs (`--raw`): it sets Django's own
DJANGO_SUPERUSER_USERNAME, _EMAIL and _PASSWORD from this shell's, for that one call, and
takes them out again (a warm environment serves the next request):

    export DJANGO_SUPERUSER_USERNAME=admin DJANGO_SUPERUSER_EMAIL=you@example.com
    read -rs DJANGO_SUPERUSER_PASSWORD && export DJANGO_SUPERUSER_PASSWORD
    zappa invoke dev --raw "$(.venv/bin/python -m stack.first_admin)"

The values travel as Python literals (repr), so no quote in a password breaks the code.
Lambda logs neither the payload nor the environment; the password is never printed.
"""

import os
import sys

VARIABLES = ("DJANGO_SUPERUSER_USERNAME", "DJANGO_SUPERUSER_EMAIL", "DJANGO_SUPERUSER_PASSWORD")

TEMPLATE = """\
import os
import django
from django.core.management import call_command
django.setup()
os.environ.update({values!r})
try:
    call_command("createsuperuser", interactive=False, verbosity=1)
finally:
    for name in {names!r}:
        os.environ.pop(name, None)
"""


def raw_command(environ: dict[str, str]) -> str:
    """The code for `zappa invoke --raw`, from DJANGO_SUPERUSER_* in environ."""
    missing = [name for name in VARIABLES if not environ.get(name)]
    if missing:
        raise ValueError(f"Set {', '.join(missing)} (read the password with `read -rs`).")
    return TEMPLATE.format(
        values={name: environ[name] for name in VARIABLES}, names=list(VARIABLES)
    )


def main() -> int:
    try:
        print(raw_command(dict(os.environ)))
    except ValueError as error:
        print(error, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
