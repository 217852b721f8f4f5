"""The README's deploy block, run on a copy of the project as far as this machine allows
(tests/infra/test_readme_deploy.py says how each kind of command is checked).

Each command of the block (the fenced `sh` under "Deploying to AWS") is taken in order and
checked in dry form: `make` targets with `make -n`; `sam build` through the Makefile's
build-<LogicalId> targets (SAM CLI's makefile build method; `sam build` itself when SAM CLI
is installed); `sam deploy` as the translated template deployed into moto with the
parameters the block's own commands wrote into samconfig.toml; `stack.stage_settings` and
`stack.first_admin` run as written, on the copy; `zappa <command>` against Zappa's own
CLI; `aws <service> <operation> --options` against botocore's service models (the AWS
CLI's). A command no rule here knows fails. A session fixture (conftest.py) runs it once:
the web packages of both test modules are built from the settings it writes.
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
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest import mock

import boto3
import botocore.session
import pytest
from moto import mock_aws

from stack import first_admin, sam, stage_settings
from stack.template import ROOT, load_template, resources_of_type

from .fake_aws import FAKE_AWS_ENV
from .web_packages import ZAPPA

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
    with contextlib.redirect_stdout(out), mock.patch.dict(os.environ, run.env):
        assert main() == 0, (module, args)
    return out.getvalue()


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
        with mock.patch.dict(os.environ, run.env):
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


def run_block(project: Path) -> Run:
    """Every command of the block, in order, on `project` (a copy of the checkout), against
    a fresh moto account with fake credentials; what it did."""
    state = Run(project)
    with pytest.MonkeyPatch.context() as patch:
        for name, value in FAKE_AWS_ENV.items():
            patch.setenv(name, value)
        patch.delenv("AWS_ENDPOINT_URL", raising=False)
        patch.setattr(stage_settings, "SAMCONFIG", project / "samconfig.toml")
        patch.setattr(stage_settings, "ZAPPA_SETTINGS", project / "zappa_settings.json")
        with mock_aws():
            for command in deploy_block():
                rule = RULES.get(command[0])
                assert rule, f"the test knows no rule for: {' '.join(command)}"
                rule(state, command)
                state.done.append(" ".join(command))
    return state
