"""zappa_settings.json: consistent with template.yaml, and `zappa package` builds a lean web
package with bytecode Lambda can use, offline."""

import ast
import fnmatch
import json
import zipfile
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from sqs_tasks.infra.task_queues import task_queues
from stack import allowlist, dependencies, stage_settings, web_package
from stack.stage_settings import SAMCONFIG
from stack.template import ROOT

from .bytecode import bytecode_problems
from .fake_aws import FAKE_AWS_ENV
from .test_lean_packages import run_probe
from .web_packages import LOCAL_SECRETS, STAGES

SETTINGS = json.loads((ROOT / "zappa_settings.json").read_text())
PACKAGE_LIMIT = 25 * 1024 * 1024


def stage(name: str) -> dict:
    """A stage's settings as Zappa reads them (extends resolved)."""
    settings = SETTINGS[name]
    if "extends" in settings:
        return {
            **stage(settings["extends"]),
            **{k: v for k, v in settings.items() if k != "extends"},
        }
    return settings


@pytest.mark.parametrize("name", STAGES)
def test_stage_uses_the_template_resources_of_the_same_name(name, template):
    settings = stage(name)
    prefix = f"{settings['project_name']}-{name}"
    # AppName is chosen in samconfig.toml (stack/stage_settings.py writes it here).
    assert stage_settings.app_name(SAMCONFIG.read_text()) == settings["project_name"]
    assert name in template["Parameters"]["Stage"]["AllowedValues"]
    resources = template["Resources"]
    assert resources["WebRole"]["Properties"]["RoleName"] == {"Fn::Sub": "${AppName}-${Stage}-web"}
    assert settings["role_name"] == f"{prefix}-web"
    deployments = resources["DeploymentBucket"]["Properties"]["BucketName"]
    assert deployments == {"Fn::Sub": "${AppName}-${Stage}-deployments"}
    assert settings["s3_bucket"] == f"{prefix}-deployments"
    # Zappa names the function ${project_name}-${stage}: the template's web log group.
    web_logs = resources["WebLogGroup"]["Properties"]["LogGroupName"]
    assert web_logs == {"Fn::Sub": "/aws/lambda/${AppName}-${Stage}"}
    secret = resources["DjangoSecretKey"]["Properties"]["Name"]
    assert secret == {"Fn::Sub": "${AppName}/${Stage}/django-secret-key"}
    variables = settings["environment_variables"]
    assert variables["APP_NAME"] == settings["project_name"]
    assert variables["APP_STAGE"] == name
    assert variables["DJANGO_SECRET_ID"] == f"{settings['project_name']}/{name}/django-secret-key"
    signing = resources["TasksSigningSecret"]["Properties"]["Name"]
    assert signing == {"Fn::Sub": "${AppName}/${Stage}/tasks-signing-keys"}
    assert variables["TASKS_SIGNING_SECRET_ID"] == (
        f"{settings['project_name']}/{name}/tasks-signing-keys"
    )


# Names of secrets, never their values: the web app reads them at run time.
SECRET_IDS = {"DJANGO_SECRET_ID", "TASKS_SIGNING_SECRET_ID"}


@pytest.mark.parametrize("name", STAGES)
def test_stage_is_the_web_app_only_with_no_secrets_and_no_role_of_its_own(name, template):
    settings = stage(name)
    assert settings["django_settings"] == "django_app.settings"
    assert settings["runtime"] == template["Globals"]["Function"]["Runtime"] == "python3.12"
    assert settings["manage_roles"] is False
    assert settings["log_level"] == "INFO"
    assert isinstance(settings["keep_warm"], bool)
    assert settings["use_precompiled_packages"] is False
    assert settings["slim_handler"] is False
    assert "events" not in settings, "workers and schedules live in template.yaml"
    for key in settings["environment_variables"]:
        assert key in SECRET_IDS or not any(
            word in key for word in ("SECRET", "PASSWORD", "TOKEN", "KEY")
        ), key


def runtime_files() -> set:
    """What the web stage may read of its packages: all but gettext sources (Django reads
    the compiled .mo files), which `exclude` leaves out."""
    files = dependencies.files_of(web_package.runtime_distributions())
    return {path for path in files if path.suffix != ".po"}


def test_excludes_spare_every_file_the_web_stage_imports():
    """Zappa matches `exclude` against every file and folder name at any depth."""
    patterns = SETTINGS["dev"]["exclude"]
    for path in runtime_files():
        for part in path.parts:
            hits = [pattern for pattern in patterns if fnmatch.fnmatch(part, pattern)]
            assert not hits, f"{hits} would drop {path}"


def test_excludes_skip_every_dev_tool_and_what_the_runtime_provides():
    """So Zappa does not copy them only for the zip callback to throw them away."""
    available = dependencies.installed()
    dev = dependencies.closure(
        dependencies.requirement_names(ROOT / "requirements-dev.txt"), available
    )
    runtime = web_package.runtime_distributions()
    copied = dependencies.surplus(dependencies.top_level_names(dev), runtime, available)
    settings = SETTINGS["dev"]
    patterns = settings["exclude"] + settings["exclude_glob"]
    unmatched = {n for n in copied if not any(fnmatch.fnmatch(n, p) for p in patterns)}
    assert not unmatched, f"add to exclude in zappa_settings.json: {sorted(unmatched)}"


def test_only_packages_the_web_stage_does_not_import_are_left_out():
    top_level = {"django", "django_app", "moto", "boto3", "werkzeug", "staticfiles", "handler.py"}
    runtime, available = web_package.runtime_distributions(), dependencies.installed()
    assert dependencies.surplus(top_level, runtime, available) == {"boto3", "moto"}


def test_the_runtime_provides_boto3_and_its_dependencies_only():
    provided = dependencies.closure(dependencies.LAMBDA_PROVIDED, dependencies.installed())
    assert set(provided) == {
        "boto3",
        "botocore",
        "s3transfer",
        "jmespath",
        "python-dateutil",
        "six",
        "urllib3",
    }
    assert not set(provided) & set(web_package.runtime_distributions())


@pytest.fixture
def web_zip(web_packages) -> Path:
    """`zappa package dev`, offline, in a clone of the project that `make run` left its
    local secrets in, on the settings the README's deploy block wrote (conftest.py)."""
    return web_packages["dev"]


@pytest.mark.slow
def test_web_package_is_small(web_zip):
    size = web_zip.stat().st_size
    print(f"web package: {size / 2**20:.1f} MiB")
    assert size < PACKAGE_LIMIT


@pytest.mark.slow
def test_web_package_holds_what_the_allow_list_names_and_nothing_else(web_zip):
    names = zipfile.ZipFile(web_zip).namelist()
    sources = [name for name in names if "__pycache__" not in name]
    assert [n for n in sources if not allowlist.allowed(n, allowlist.WEB_KEEP)] == []
    kept = {
        str(path) for path in runtime_files() if allowlist.allowed(str(path), allowlist.WEB_KEEP)
    }
    missing = kept - set(names)
    assert not missing, sorted(missing)[:10]
    assert "staticfiles/staticfiles.json" in names, "collectstatic ran (whitenoise's manifest)"
    assert "functions/worker.py" in names and "handler.py" in names


@pytest.mark.slow
def test_web_package_ships_no_local_secret_or_dotenv(web_zip):
    """After `make run` the project folder holds the local secret key and caught emails
    (var/local), and maybe a .env: the allow-list names none of them."""
    with zipfile.ZipFile(web_zip) as archive:
        names = archive.namelist()
        contents = b"".join(archive.read(name) for name in names if not name.endswith(".pyc"))
    assert not [n for n in names if n.startswith(("var/", ".env")) or "/.env" in n]
    for secret in LOCAL_SECRETS.values():
        assert secret.encode() not in contents


@pytest.mark.slow
def test_web_package_leaves_out_translations_tests_and_deploy_tooling(web_zip):
    names = zipfile.ZipFile(web_zip).namelist()
    assert "django/conf/locale/en/formats.py" in names
    assert not [n for n in names if "/locale/fr/" in n or "/tests/" in n or n.endswith(".pyi")]
    assert not [n for n in names if n.startswith(("zappa/cli", "zappa/core", "django/contrib/gis"))]


@pytest.mark.slow
def test_web_package_knows_the_task_queues_the_template_declares(web_zip, template):
    with zipfile.ZipFile(web_zip) as archive:
        module = ast.parse(archive.read("zappa_settings.py"))
    namespace: dict = {}
    exec(compile(module, "zappa_settings.py", "exec"), namespace)  # the handler imports it
    declared = [queue.name for queue in task_queues(template)]
    assert namespace["ENVIRONMENT_VARIABLES"]["TASK_QUEUES"] == ",".join(declared)


@pytest.mark.slow
def test_web_package_bytecode_is_used_as_is_on_lambda(web_zip):
    with zipfile.ZipFile(web_zip) as archive:
        assert bytecode_problems(archive.namelist(), archive.read) == []


@pytest.mark.slow
def test_web_package_settings_carry_the_stage_environment_and_no_secret(web_zip, readme_run):
    with zipfile.ZipFile(web_zip) as archive:
        module = ast.parse(archive.read("zappa_settings.py"))
    values = {
        node.targets[0].id: ast.literal_eval(node.value)
        for node in module.body
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name)
    }
    variables = values["ENVIRONMENT_VARIABLES"]
    app = readme_run.zappa_settings()["dev"]["project_name"]
    assert variables["APP_STAGE"] == "dev"
    assert variables["DJANGO_SECRET_ID"] == f"{app}/dev/django-secret-key"
    assert "DJANGO_SECRET_KEY" not in variables
    assert values["API_STAGE"] == "dev"


@pytest.mark.parametrize("name", STAGES)
def test_stage_snapshots_and_api_gateway_invokes_the_alias_not_latest(name, monkeypatch):
    """Zappa issue #1463: with SnapStart, API Gateway must invoke a published version.
    Zappa 0.63 keeps an alias on the version it published and points API Gateway at it:
    checked with Zappa's own settings loader and API Gateway template, offline."""
    from zappa.cli import ZappaCLI
    from zappa.core import SNAPSTART_LAMBDA_ALIAS

    for variable, value in FAKE_AWS_ENV.items():
        monkeypatch.setenv(variable, value)
    settings = stage(name)
    assert settings["snap_start"] == "PublishedVersions"
    assert "provisioned_concurrency" not in settings  # SnapStart excludes it
    assert settings["num_retained_versions"] >= 2  # Zappa's alias keeps the previous one
    # Set before Zappa's handler module is imported, so it builds the app in the init.
    assert settings["aws_environment_variables"]["INSTANTIATE_LAMBDA_HANDLER_ON_IMPORT"]
    assert settings["keep_warm"] is False  # it would ping $LATEST, which nobody invokes
    cli = ZappaCLI()
    cli.api_stage = name
    function = f"arn:aws:lambda:us-east-1:123456789012:function:app-{name}"
    with mock_aws():  # Zappa looks its role up in IAM
        iam = boto3.client("iam")
        iam.create_role(RoleName=settings["role_name"], AssumeRolePolicyDocument="{}")
        cli.load_settings(str(ROOT / "zappa_settings.json"))
        assert cli.apigateway_lambda_qualifier == SNAPSTART_LAMBDA_ALIAS
        template = cli.zappa.create_stack_template(
            lambda_arn=function,
            lambda_name=f"app-{name}",
            api_key_required=False,
            iam_authorization=False,
            authorizer=None,
            lambda_qualifier=cli.apigateway_lambda_qualifier,
        )
    uris = {
        json.dumps(method["Properties"]["Integration"]["Uri"])
        for method in json.loads(template.to_json())["Resources"].values()
        if method["Type"] == "AWS::ApiGateway::Method"
    }
    assert uris and all(f"{function}:{SNAPSTART_LAMBDA_ALIAS}/invocations" in u for u in uris)


@pytest.mark.slow
def test_the_web_stage_runs_everything_from_its_package(web_zip, tmp_path):
    """Pages (through Zappa's handler too), tasks, a schedule and email, run from the
    unpacked zip: nothing the code needs was left out (tests/infra/lean_probe.py)."""
    tree = tmp_path / "task"  # as Lambda unpacks it into /var/task
    with zipfile.ZipFile(web_zip) as archive:
        archive.extractall(tree)
    found = run_probe(tree, tmp_path)
    assert found["escaped"] == []
    assert {"handler.py", "staticfiles/staticfiles.json"} <= set(found["used"])
