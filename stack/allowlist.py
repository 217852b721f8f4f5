"""What the Lambda packages keep: an allow-list, not a list of what to leave out.

Patterns are paths relative to a package's root: `*` matches within one folder name,
`**` any number of folders (`django/*.py`: Django's own top-level modules; `django_app/**`:
all of it).

A file ships when KEEP names it (a pattern per part of the project and of each dependency
that runs on Lambda), unless it is of a kind that never runs there (NEVER: tests, type
stubs, docs, bytecode the build regenerates, sources of static files the web app serves
collected, translations of languages settings.LANGUAGES does not offer). Anything a
dependency adds in a new release, in a place KEEP does not name, stays out until someone
decides it should ship.

Both packages apply it: the workers' artifact (stack.artifact) and the web stage's zip
(stack.web_package, which adds Zappa's handler and the collected static files). The
packages' tests run the real handlers, pages and tasks from the pruned trees, so a pattern
missing here fails a test (tests/infra/test_lean_packages.py, tests/infra/lean_probe.py).
"""

import re
from collections.abc import Iterable
from functools import cache

# The app's languages (settings.LANGUAGES): only their translations ship.
LANGUAGES = ("en",)
# Django's contrib apps: those in INSTALLED_APPS, and sites, whose shortcuts auth imports.
DJANGO_CONTRIB = ("admin", "auth", "contenttypes", "messages", "sessions", "sites", "staticfiles")
DJANGO_PACKAGES = (
    "apps",
    "core",
    "db",
    "dispatch",
    "forms",
    "http",
    "middleware",
    "tasks",
    "template",
    "templatetags",
    "test",  # its signals (setting_changed) are imported by core modules
    "urls",
    "utils",
    "views",
)
# Powertools' parts the code uses (logging, metrics, batch processing of SQS records),
# what they import, and parameters (secrets and parameters, cached per environment).
POWERTOOLS_PACKAGES = (
    "exceptions",
    "logging",
    "metrics",
    "middleware_factory",
    "shared",
    "tracing",
    "warnings",
    "utilities/batch",
    "utilities/data_classes",
    "utilities/jmespath_utils",
    "utilities/parameters",
    "utilities/typing",
)
# Dependencies that ship whole: small, or read as data (tzdata), or native (psycopg).
WHOLE = (
    "asgiref",
    "axes",  # django-axes: failed-login limits
    "dj_database_url",
    "django_ses",
    "psycopg",
    "psycopg_binary",
    "psycopg_binary.libs",
    "sqlparse",
    "tzdata",
    "whitenoise",
)

KEEP = (
    # The project's runtime packages (stack.artifact.SOURCES).
    "django_app/**",
    "sqs_tasks/**",
    "functions/**",
    "manage.py",
    # Django: the framework, the contrib apps above, the locale machinery.
    "django/*.py",
    *(f"django/{package}/**" for package in DJANGO_PACKAGES),
    "django/conf/*.py",
    "django/conf/urls/**",
    "django/conf/locale/__init__.py",
    *(f"django/conf/locale/{language}/**" for language in LANGUAGES),
    "django/contrib/__init__.py",
    *(f"django/contrib/{app}/**" for app in DJANGO_CONTRIB),
    # Powertools: the parts above.
    "aws_lambda_powertools/*.py",
    "aws_lambda_powertools/utilities/__init__.py",
    *(f"aws_lambda_powertools/{package}/**" for package in POWERTOOLS_PACKAGES),
    *(f"{name}/**" for name in WHOLE),
    "typing_extensions.py",
    # importlib.metadata.version() reads METADATA (django-ses and psycopg ask at import).
    "*.dist-info/METADATA",
)

WORKER_KEEP = KEEP
# The web stage's zip adds Zappa's handler (generated at the zip's root, with its settings)
# and the parts of Zappa it imports on Lambda (its deploy tooling, cli and core, stays
# behind), their dependencies, and the static files collectstatic gathered.
WEB_KEEP = (
    *KEEP,
    "__init__.py",
    "handler.py",
    "zappa_settings.py",
    "django_zappa_app.py",
    "package_info.json",
    *(f"zappa/{module}.py" for module in ("__init__", "asgi", "middleware", "utilities", "wsgi")),
    "zappa/websocket.py",
    "zappa/ext/**",
    "werkzeug/**",
    "markupsafe/**",
    "durationpy/**",
    "staticfiles/**",
)

NEVER = (
    "**/tests/**",
    "**/*.pyi",
    "**/py.typed",
    "**/*.md",
    "**/*.rst",
    "**/*.pyc",
    "**/__pycache__/**",
    "**/*.po",
    # Static files are served collected (staticfiles/, web only); their sources never are.
    "django/contrib/*/static/**",
    "django_app/**/static/**",
)


@cache
def _compiled(pattern: str) -> re.Pattern[str]:
    parts = re.split(r"(\*\*/|\*\*|\*|\?)", pattern)
    meaning = {"**/": "(?:.*/)?", "**": ".*", "*": "[^/]*", "?": "[^/]"}
    return re.compile("".join(meaning.get(part, re.escape(part)) for part in parts))


def matches(path: str, pattern: str) -> bool:
    return _compiled(pattern).fullmatch(path) is not None


def _translations_kept(path: str) -> bool:
    """A translation ships only for the app's languages: Django's (locale/<language>/...)
    and the admin's select2 widget's (select2/i18n/<language>.js, collected as is,
    hashed and compressed)."""
    parts = path.split("/")
    if "locale" in parts[:-1]:
        after = parts[parts.index("locale") + 1 :]
        return len(after) == 1 or after[0] in LANGUAGES
    if parts[-2:-1] == ["i18n"] and "select2" in parts:
        return parts[-1].split(".")[0] in LANGUAGES
    return True


def allowed(path: str, keep: Iterable[str] = KEEP) -> bool:
    """Whether a package ships path (posix, relative to the package root)."""
    return (
        any(matches(path, pattern) for pattern in keep)
        and not any(matches(path, pattern) for pattern in NEVER)
        and _translations_kept(path)
    )
