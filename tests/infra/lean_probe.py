"""Run what Lambda runs, from a package tree, and say where every module and file came from.

`python -m tests.infra.lean_probe TREE SCRATCH`, with TREE as the working directory (so it
is first on sys.path) and the repository after it (for this probe and moto). It sets
Django up as a deployed function does, imports every module of the project, migrates a
database, serves pages (and the web package's Zappa handler, when TREE has one), runs
tasks through the worker handler (one succeeds, one fails for good), fires a schedule and
sends an email, all against moto (pages only from the web package, which has the
collected static files they link to). It writes JSON: `escaped`, the modules and files that
came from outside TREE although TREE should hold them (what the package left out but the
code needs), and `used`, the files of TREE that were read, into SCRATCH/probe.json (the
code under test prints to stdout: EMF metrics).
"""

import json
import os
import pkgutil
import sys
import sysconfig
from pathlib import Path

TREE = Path(sys.argv[1]).resolve()
SCRATCH = Path(sys.argv[2]).resolve()
REPOSITORY = Path(__file__).resolve().parents[2]
SITE = Path(sysconfig.get_paths()["purelib"]).resolve()
PROJECT = ("django_app", "sqs_tasks", "functions")

opened: set[str] = set()


def audit(event: str, args: tuple) -> None:
    if event == "open" and isinstance(args[0], str):
        opened.add(args[0])


sys.addaudithook(audit)
os.environ.update(
    {
        "DJANGO_SETTINGS_MODULE": "django_app.settings",
        "APP_NAME": "app",
        "APP_STAGE": "test",  # tests/aws_resources.py's names
        "TASK_QUEUES": "default,heavy",  # as template.yaml sets it: no template on Lambda
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "DJANGO_SECRET_KEY": "lean-probe-0123456789-abcdefghijklmnopqrstuvwxyz",
        "DATABASE_URL": f"sqlite:///{SCRATCH / 'db.sqlite3'}",
        "DJANGO_SECURE_SSL_REDIRECT": "false",
        "DJANGO_ALLOWED_HOSTS": "testserver,localhost",
        "DJANGO_DEFAULT_FROM_EMAIL": "probe@example.com",
        "POWERTOOLS_METRICS_NAMESPACE": "app-test",
    }
)
os.environ.pop("AWS_ENDPOINT_URL", None)


def exercise() -> None:
    import boto3
    import django
    from moto import mock_aws

    with mock_aws():
        django.setup()
        from django.core import mail
        from django.core.management import call_command
        from django.test import Client

        from tests.aws_resources import create_resources

        for package in PROJECT:
            module = __import__(package)
            for found in pkgutil.walk_packages(module.__path__, f"{package}."):
                __import__(found.name)
        call_command("migrate", verbosity=0)
        call_command("check")
        session = boto3.session.Session(region_name="us-east-1")
        create_resources(session)
        session.client("ses").verify_email_identity(EmailAddress="probe@example.com")
        if (TREE / "staticfiles").is_dir():  # the web package: the workers serve no pages
            serve_pages(Client())
        run_tasks()
        mail.send_mail("probe", "body", "probe@example.com", ["someone@example.com"])
        if (TREE / "handler.py").exists():
            serve_through_zappa()


def serve_pages(client) -> None:
    from django.contrib.auth import get_user_model

    for path in ("/", "/accounts/login/", "/accounts/signup/", "/admin/login/", "/nope/"):
        client.get(path)
    staff = get_user_model().objects.create_superuser("probe", "probe@example.com", "probe-pw")
    client.post("/accounts/login/", {"username": "probe", "password": "wrong"})  # axes counts it
    client.force_login(staff)
    for path in ("/", "/tasks/", "/admin/", "/admin/auth/user/", "/rates/"):
        client.get(path)


def run_tasks() -> None:
    from functions.scheduler import handler as scheduler
    from sqs_tasks.lambda_events import LambdaContext
    from sqs_tasks.testing import drain_queue
    from tests.sample_tasks import add, fails_with_value_error

    add.enqueue(1, 2)
    fails_with_value_error.enqueue()
    scheduler(
        {"schedule": "queue-health", "scheduled_time": "2026-01-01T00:00:00Z"}, LambdaContext()
    )
    drain_queue("default")


def serve_through_zappa() -> None:
    import handler

    event = {
        "httpMethod": "GET",
        "path": "/accounts/login/",
        "headers": {"Host": "localhost"},
        "requestContext": {},
        "queryStringParameters": None,
        "body": None,
        "isBase64Encoded": False,
    }
    answer = handler.lambda_handler(event, None)
    assert answer["statusCode"] == 200, answer


def origin(path: str) -> str | None:
    """Where a path that TREE should have supplied came from instead, if it did."""
    resolved = Path(path).resolve()
    if resolved.is_relative_to(TREE):
        return None
    if resolved.is_relative_to(REPOSITORY) and resolved.relative_to(REPOSITORY).parts[0] in PROJECT:
        return str(resolved)
    if resolved.is_relative_to(SITE) and resolved.relative_to(SITE).parts[0] in shipped():
        return str(resolved)
    return None


def shipped() -> set[str]:
    """TREE's top-level names (a module's bytecode cache is not one of them)."""
    names = {entry.name for entry in TREE.iterdir()} - {"__pycache__"}
    return names | {name.removesuffix(".py") for name in names}


def main() -> None:
    exercise()
    files = {getattr(m, "__file__", None) for m in list(sys.modules.values())} | opened
    files.discard(None)
    escaped = sorted({found for path in files if (found := origin(path))})
    used = sorted(
        str(Path(path).resolve().relative_to(TREE))
        for path in files
        if Path(path).resolve().is_relative_to(TREE) and Path(path).is_file()
    )
    (SCRATCH / "probe.json").write_text(json.dumps({"escaped": escaped, "used": used}))


if __name__ == "__main__":
    main()
