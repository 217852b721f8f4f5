"""The README's deploy block, run as far as this machine allows, so the docs and the commands
cannot drift apart.

Each command of the block (the fenced `sh` under "Deploying to AWS") is taken in order and
checked in dry form: `make` targets with `make -n`; `sam build` through the Makefile's
build-<LogicalId> targets (SAM CLI's makefile build method; `sam build` itself when SAM CLI
is installed); `sam deploy` as the translated template deployed into moto with the
parameters the block's own commands wrote into samconfig.toml (the database on), and again
with Database=none (off); `stack.stage_settings` and `stack.first_admin` run as written, on
a copy of the project; `zappa <command>` against Zappa's own CLI, and `zappa package` for
each stage of the settings the block produced; `aws <service> <operation> --options` against
botocore's service models (the AWS CLI's). A command no rule here knows fails the test.
"""

import contextlib
import functools
import io
import json
import os
import re
import shlex
import shutil
import subprocess
import tomllib
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import botocore.session
import pytest
from moto import mock_aws

from stack import first_admin, sam, stage_settings
from stack.template import ROOT, load_template, resources_of_type

from .conftest import FAKE_AWS_ENV, REGION
from .test_zappa import NOT_IN_A_CLONE, ZAPPA, offline_zappa_env

pytestmark = [
    pytest.mark.filterwarnings("ignore:Tried to parse:UserWarning"),
    pytest.mark.xdist_group("artifacts"),  # zappa package, like test_zappa.py
]

README = ROOT / "README.md"
# The AWS CLI's own commands that are no single API operation.
AWS_CLI_S3_COMMANDS = {"cp", "ls", "mb", "mv", "rb", "rm", "sync"}
SAM_COMMANDS = {"build", "deploy", "delete", "logs"}
TEST_PASSWORD = "a 'quoted' password"


def deploy_block() -> list[list[str]]:
    """The block's commands, each as its words: comments dropped, `&&` and `;` split."""
    text = README.read_text()
    section = text[text.index("## Deploying to AWS\n") :]
    section = section[: section.index("\n### ")]
    (block,) = re.findall(r"^```sh\n(.*?)^```", section, re.M | re.S)
    commands = []
    for line in block.splitlines():
        lexer = shlex.shlex(line, posix=True, punctuation_chars=";&")
        lexer.whitespace_split = True
        lexer.commenters = "#"
        command: list[str] = []
        for word in lexer:
            if word in {"&&", ";"}:
                commands.append(command)
                command = []
            else:
                command.append(word)
        if command:
            commands.append(command)
    return [command for command in commands if command]


@dataclass
class Run:
    """What the block did to a copy of the project, command by command."""

    project: Path
    env: dict[str, str] = field(default_factory=dict)
    done: list[str] = field(default_factory=list)
    deployments: dict[str, dict[str, Any]] = field(default_factory=dict)
    zappa_commands: list[list[str]] = field(default_factory=list)
    raw_code: str = ""

    def expand(self, word: str) -> str:
        def value(match: re.Match) -> str:
            name = match.group(1)
            if name not in self.env:
                raise AssertionError(f"${name} is used before the block sets it")
            return self.env[name]

        return re.sub(r"\$(\w+)", value, word)

    def samconfig(self) -> dict[str, Any]:
        return tomllib.loads((self.project / "samconfig.toml").read_text())

    def zappa_settings(self) -> dict[str, Any]:
        return json.loads((self.project / "zappa_settings.json").read_text())


def python_module(run: Run, words: list[str]) -> str:
    """Run `.venv/bin/python -m <module> args` in process, on the copy; its stdout."""
    assert words[:1] == ["-m"], words
    module, args = words[1], [run.expand(w) for w in words[2:]]
    main: Callable[..., int] = {
        "stack.stage_settings": lambda: stage_settings.main(args),
        "stack.first_admin": first_admin.main,
    }[module]
    out = io.StringIO()
    with contextlib.redirect_stdout(out), _environ(run.env):
        assert main() == 0, (module, args)
    return out.getvalue()


@contextlib.contextmanager
def _environ(values: dict[str, str]) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, old in saved.items():
            if old is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = old


def command_substitution(run: Run, word: str) -> str:
    """ "$(.venv/bin/python -m ...)" run; any other word as it is."""
    match = re.fullmatch(r"\$\((.*)\)", word)
    if not match:
        return run.expand(word)
    inner = shlex.split(match.group(1))
    assert inner[0] == ".venv/bin/python", inner
    return python_module(run, inner[1:])


def make(run: Run, words: list[str]) -> None:
    dry = subprocess.run(["make", "-n", *words], cwd=ROOT, capture_output=True, text=True)
    assert dry.returncode == 0, dry.stderr
    arguments = dict(w.split("=", 1) for w in words if "=" in w)
    targets = [w for w in words if "=" not in w]
    for target in targets:
        if target == "app-name":
            python_module(run, ["-m", "stack.stage_settings", "--app-name", arguments["APP"]])
        elif target == "stage-settings":
            python_module(
                run, ["-m", "stack.stage_settings", "--from-stack", arguments.get("STAGE", "dev")]
            )
        else:
            assert target == "install", f"no rule for make {target}"


def sam_command(run: Run, words: list[str]) -> None:
    subcommand, options = words[0], words[1:]
    assert subcommand in SAM_COMMANDS, words
    config_env = (
        options[options.index("--config-env") + 1] if "--config-env" in options else "default"
    )
    if subcommand == "build":
        sam_build(run)
    elif subcommand == "deploy":
        assert "--parameter-overrides" not in options, "the overrides live in samconfig.toml"
        deploy = run.samconfig()[config_env]["deploy"]["parameters"]
        parameters = dict(p.split("=", 1) for p in deploy["parameter_overrides"].split())
        # In the region the block exported, as SAM CLI would.
        with _environ(run.env):
            outputs = sam.deploy(boto3.session.Session(), parameters=parameters)
        assert sam.stack_name(parameters) == deploy["stack_name"]
        run.deployments[deploy["stack_name"]] = {"parameters": parameters, "outputs": outputs}
    elif subcommand == "delete":
        name = run.expand(options[options.index("--stack-name") + 1])
        assert name in run.deployments, f"sam delete {name}: the block deployed no such stack"


def sam_build(run: Run) -> None:
    """SAM CLI runs `make build-<LogicalId>` for each function (BuildMethod: makefile)."""
    if shutil.which("sam"):
        built = subprocess.run(["sam", "build"], cwd=run.project, capture_output=True, text=True)
        assert built.returncode == 0, built.stderr
        return
    functions = resources_of_type(load_template(), "AWS::Serverless::Function")
    assert functions
    for logical_id, function in functions.items():
        assert function["Metadata"]["BuildMethod"] == "makefile", logical_id
        dry = subprocess.run(
            ["make", "-n", f"build-{logical_id}", "ARTIFACTS_DIR=/tmp/artifacts"],
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
        assert dry.returncode == 0, f"build-{logical_id}: {dry.stderr}"
        assert 'cp -R build/lambda/. "/tmp/artifacts"' in dry.stdout, logical_id


@functools.cache
def zappa_help(subcommand: str) -> str:
    """Zappa's own help for a subcommand; fails for one it does not have."""
    process = subprocess.run(
        [ZAPPA, subcommand, "--help"],
        capture_output=True,
        text=True,
        env={**os.environ, "HTTPS_PROXY": "http://127.0.0.1:9"},
    )
    assert process.returncode == 0, f"zappa {subcommand}: {process.stderr}"
    return process.stdout


def zappa_command(run: Run, words: list[str]) -> None:
    options = [command_substitution(run, w) for w in words]
    subcommand = options[0]
    for option in options[1:]:
        if option.startswith("--"):
            assert option in zappa_help(subcommand), f"zappa {subcommand} has no {option}"
    zappa_help(subcommand)
    stage = options[1]
    assert stage in run.zappa_settings(), f"zappa {subcommand} {stage}: no such stage"
    if "--raw" in options:
        run.raw_code = options[options.index("--raw") + 1]
    run.zappa_commands.append(options)


def aws_command(run: Run, words: list[str]) -> None:
    service, operation, options = words[0], words[1], [run.expand(w) for w in words[2:]]
    if service == "s3" and operation in AWS_CLI_S3_COMMANDS:
        for option in options:
            if option.startswith("s3://"):
                bucket = option.removeprefix("s3://").split("/")[0]
                assert bucket.startswith(f"{run.env['APP_NAME']}-"), bucket
        return
    model = botocore.session.get_session().get_service_model(service)
    names = {re.sub(r"(?<!^)(?=[A-Z])", "-", name).lower(): name for name in model.operation_names}
    assert operation in names, f"aws {service} has no {operation}"
    members = {m.lower() for m in model.operation_model(names[operation]).input_shape.members}
    for option in options:
        if option.startswith("--"):
            assert option[2:].replace("-", "") in members, f"aws {service} {operation} {option}"


def shell_builtin(run: Run, words: list[str]) -> None:
    name = words[0]
    if name == "export":
        for assignment in words[1:]:
            if "=" in assignment:
                key, value = assignment.split("=", 1)
                run.env[key] = run.expand(value)
            else:
                assert assignment in run.env, f"export {assignment}: never set"
    elif name == "read":
        run.env[words[-1]] = TEST_PASSWORD
    elif name == "source":
        assert (ROOT / words[1]).exists(), words
    elif name == "eval":
        exports = command_substitution(run, words[1])
        shell_builtin(run, shlex.split(exports))


RULES: dict[str, Callable[[Run, list[str]], Any]] = {
    "export": shell_builtin,
    "read": shell_builtin,
    "source": shell_builtin,
    "eval": shell_builtin,
    "make": lambda run, words: make(run, words[1:]),
    "sam": lambda run, words: sam_command(run, words[1:]),
    "zappa": lambda run, words: zappa_command(run, words[1:]),
    "aws": lambda run, words: aws_command(run, words[1:]),
    ".venv/bin/python": lambda run, words: python_module(run, words[1:]),
}


@pytest.fixture(scope="module")
def run(tmp_path_factory, fake_aws_env) -> Iterator[Run]:
    project = tmp_path_factory.mktemp("readme") / "project"
    shutil.copytree(ROOT, project, ignore=NOT_IN_A_CLONE)
    state = Run(project)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(stage_settings, "SAMCONFIG", project / "samconfig.toml")
        patch.setattr(stage_settings, "ZAPPA_SETTINGS", project / "zappa_settings.json")
        with mock_aws():
            for command in deploy_block():
                rule = RULES.get(command[0])
                assert rule, f"the test knows no rule for: {' '.join(command)}"
                rule(state, command)
                state.done.append(" ".join(command))
        yield state


def test_every_command_of_the_block_ran(run):
    assert len(run.done) == len(deploy_block())
    firsts = {command.split()[0] for command in run.done}
    assert {"make", "sam", "zappa", "aws", ".venv/bin/python"} <= firsts


def test_the_block_chooses_the_app_name_once_and_both_tools_use_it(run):
    app = run.env["APP_NAME"]
    assert app != "app"
    samconfig = run.samconfig()
    assert stage_settings.app_name((run.project / "samconfig.toml").read_text()) == app
    assert samconfig["default"]["deploy"]["parameters"]["stack_name"] == run.env["STACK"]
    assert run.zappa_settings()["dev"]["project_name"] == app


def test_the_stack_is_deployed_with_its_database_and_email(run):
    (deployment,) = run.deployments.values()
    parameters, outputs = deployment["parameters"], deployment["outputs"]
    assert parameters["Database"] == "aurora"
    assert "@" in parameters["EmailSender"] and "@" in parameters["AlarmEmail"]
    assert outputs["DatabaseSecretArn"].startswith("arn:aws:secretsmanager:")
    assert outputs["FunctionsSubnetIds"].count(",") == 1


def test_email_is_a_required_step_with_the_identity_verified_first(run):
    verified = [c for c in run.done if c.startswith("aws sesv2 create-email-identity")]
    (command,) = verified
    identity = command.split()[-1]
    (deployment,) = run.deployments.values()
    assert deployment["parameters"]["EmailSender"] == identity
    assert run.done.index(command) < next(
        i for i, c in enumerate(run.done) if c.startswith("sam deploy")
    )


def test_the_web_stage_is_wired_to_the_stacks_network_and_database(run):
    (deployment,) = run.deployments.values()
    outputs = deployment["outputs"]
    dev = run.zappa_settings()["dev"]
    assert dev["vpc_config"] == {
        "SubnetIds": outputs["FunctionsSubnetIds"].split(","),
        "SecurityGroupIds": outputs["FunctionsSecurityGroupIds"].split(","),
    }
    variables = dev["environment_variables"]
    assert variables["DATABASE_SECRET_ARN"] == outputs["DatabaseSecretArn"]
    assert variables["DATABASE_HOST"] == outputs["DatabaseHost"]
    assert variables["DATABASE_NAME"] == outputs["DatabaseName"]
    # Wired before the web app is deployed.
    wired = run.done.index("make stage-settings STAGE=dev")
    assert wired < next(i for i, c in enumerate(run.done) if c.startswith("zappa deploy"))


def test_the_first_admin_is_created_without_a_prompt(run):
    assert "createsuperuser" in run.raw_code and "interactive=False" in run.raw_code
    assert repr(TEST_PASSWORD) in run.raw_code  # from the shell's `read`, as a literal
    compile(run.raw_code, "raw_command", "exec")
    migrate = run.done.index("zappa manage dev migrate")
    assert migrate < next(i for i, c in enumerate(run.done) if "--raw" in c)


def test_teardown_names_come_from_the_stage_not_from_app_dev(run):
    teardown = [c for c in run.done if c.startswith(("sam delete", "aws s3 r", "aws dynamodb"))]
    assert len(teardown) == 4
    assert not [c for c in teardown if "app-dev" in c]


def test_without_the_database_the_same_stack_has_none(run, fake_aws_env):
    (deployment,) = run.deployments.values()
    parameters = {**deployment["parameters"], "Database": "none"}
    with mock_aws():
        session = boto3.session.Session(region_name=REGION)
        outputs = sam.deploy(session, parameters=parameters)
        assert session.client("rds").describe_db_clusters()["DBClusters"] == []
        config = session.client("lambda").get_function_configuration(
            FunctionName=f"{parameters['AppName']}-dev-worker-default"
        )
    assert not {"DatabaseSecretArn", "FunctionsSubnetIds"} & set(outputs)
    assert not config.get("VpcConfig", {}).get("SubnetIds")
    assert "DATABASE_SECRET_ARN" not in config["Environment"]["Variables"]
    unwired = stage_settings.wire_stack(run.zappa_settings(), "dev", outputs)
    assert unwired["dev"]["vpc_config"] == {}
    assert "DATABASE_SECRET_ARN" not in unwired["dev"]["environment_variables"]


STAGES = ("dev", "prod")


@pytest.fixture(scope="module")
def packages(run, tmp_path_factory) -> dict[str, Path]:
    """`zappa package <stage>` for each stage, on the settings the block wrote; both at once
    (each is mostly waiting on files), each in its own copy (collectstatic clears the
    folder it writes), offline as in test_zappa.py."""
    folder = tmp_path_factory.mktemp("packages")
    copies = {stage: shutil.copytree(run.project, folder / stage) for stage in STAGES}
    env = {**offline_zappa_env(), **FAKE_AWS_ENV}
    outputs = {stage: folder / f"web-{stage}.zip" for stage in STAGES}
    processes = {
        stage: subprocess.Popen(
            [ZAPPA, "package", stage, "--output", str(output)],
            cwd=copies[stage],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for stage, output in outputs.items()
    }
    for stage, process in processes.items():
        log, _ = process.communicate(timeout=300)
        assert process.returncode == 0, f"zappa package {stage}: {log}"
    return outputs


@pytest.mark.slow
@pytest.mark.parametrize("stage", STAGES)
def test_zappa_packages_each_stage_of_the_settings_the_block_wrote(packages, run, stage):
    with zipfile.ZipFile(packages[stage]) as archive:
        settings = archive.read("zappa_settings.py").decode()
    assert f"'APP_NAME': '{run.env['APP_NAME']}'" in settings
    assert f"'APP_STAGE': '{stage}'" in settings
    # The block wired dev to its database; prod, extending dev, keeps none of it.
    assert ("DATABASE_SECRET_ARN" in settings) == (stage == "dev")
