"""AppName in one place, and the web stage wired to the stack without hand-editing.

The stack and the web stage meet on names derived from AppName and the stage (docs/deploy.md,
"Why the names come from the stage"), which samconfig.toml passes to `sam deploy` and
zappa_settings.json repeats in about seven fields per stage. AppName is chosen once, in
samconfig.toml's `parameter_overrides`; this writes every field derived from it:

    python -m stack.stage_settings --app-name shop   # choose it (make app-name APP=shop)
    python -m stack.stage_settings                   # re-derive after editing samconfig.toml
    python -m stack.stage_settings --set Database=aurora --set EmailSender=me@example.com
    python -m stack.stage_settings --from-stack dev  # and the dev stack's network and database
    python -m stack.stage_settings --shell dev       # `export` lines (teardown, the runbook)
    python -m stack.stage_settings --deploy-policy   # the deployer's policies, for this AppName

`--from-stack` reads the deployed stack's outputs (FunctionsSubnetIds, DatabaseSecretArn ...)
into the stage's `vpc_config` and `environment_variables`, so the web function joins the
database's VPC with the same secret as the workers; with no database those fields go away.
Once `zappa deploy` has made the stage's API, it also sets PUBLIC_BASE_URL to its URL.
It runs once after `sam deploy`, never when packaging: `zappa package` stays offline.
Edits are textual in samconfig.toml (its comments stay) and whole-file in
zappa_settings.json (JSON has none).
"""

import argparse
import json
import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stack import sam
from stack.template import ROOT, read_template

SAMCONFIG = ROOT / "samconfig.toml"
ZAPPA_SETTINGS = ROOT / "zappa_settings.json"
# Whoever deploys: two policies (IAM caps one at 6,144 characters), by name; their resources
# are named with this placeholder, which --deploy-policy fills in.
DEPLOY_POLICY = ROOT / "docs" / "deploy-policy.json"
APP_PLACEHOLDER = "APPNAME"
DEPLOY_POLICY_DIR = ROOT / "build" / "deploy-policy"
# samconfig.toml's config envs and the stage each deploys.
CONFIG_ENVS = {"default": "dev", "prod": "prod"}
EXECUTE_API = re.compile(r"^https://[a-z0-9]+\.execute-api\.")
DATABASE_VARIABLES = {
    "DatabaseSecretArn": "DATABASE_SECRET_ARN",
    "DatabaseHost": "DATABASE_HOST",
    "DatabaseName": "DATABASE_NAME",
}


@dataclass(frozen=True)
class StageNames:
    """Every name a stage derives from AppName (template.yaml builds the same)."""

    app: str
    stage: str

    @property
    def prefix(self) -> str:
        return f"{self.app}-{self.stage}"

    @property
    def stack(self) -> str:
        return sam.stack_name({"AppName": self.app, "Stage": self.stage})

    @property
    def secret_id(self) -> str:
        return f"{self.app}/{self.stage}/django-secret-key"

    @property
    def signing_secret_id(self) -> str:
        return f"{self.app}/{self.stage}/tasks-signing-keys"

    def zappa_fields(self) -> dict[str, Any]:
        return {
            "role_name": f"{self.prefix}-web",
            "s3_bucket": f"{self.prefix}-deployments",
            "tags": {"app": self.app, "stage": self.stage},
        }

    def zappa_variables(self) -> dict[str, str]:
        return {
            "APP_NAME": self.app,
            "APP_STAGE": self.stage,
            "DJANGO_SECRET_ID": self.secret_id,
            "TASKS_SIGNING_SECRET_ID": self.signing_secret_id,
            "POWERTOOLS_METRICS_NAMESPACE": self.prefix,
        }

    def shell(self) -> str:
        return (
            f"export APP_NAME={self.app} APP_STAGE={self.stage} STACK={self.stack} "
            f"DJANGO_SECRET_ID={self.secret_id} TASKS_SIGNING_SECRET_ID={self.signing_secret_id}"
        )


def validate_app_name(app: str) -> str:
    """template.yaml's own rule for AppName, so a bad name fails here, not in CloudFormation."""
    parameter = read_template()["Parameters"]["AppName"]
    if not re.fullmatch(parameter["AllowedPattern"], app):
        raise ValueError(f"AppName {app!r}: {parameter['ConstraintDescription']}")
    return app


def app_name(samconfig: str) -> str:
    """The AppName samconfig.toml's default config env deploys."""
    section = _section(samconfig, "default.deploy.parameters")
    match = re.search(r"^parameter_overrides\s*=\s*\"[^\"]*\bAppName=([^\s\"]+)", section, re.M)
    if not match:
        raise ValueError("samconfig.toml: [default.deploy.parameters] names no AppName")
    return match.group(1)


def _section(text: str, name: str) -> str:
    match = re.search(rf"^\[{re.escape(name)}\]\n(.*?)(?=^\[|\Z)", text, re.M | re.S)
    if not match:
        raise ValueError(f"samconfig.toml has no [{name}]")
    return match.group(1)


def render_samconfig(text: str, app: str) -> str:
    """samconfig.toml with each config env's stack, prefix and AppName override for app."""
    for env, stage in CONFIG_ENVS.items():
        name = f"{env}.deploy.parameters"
        section = _section(text, name)
        prefix = StageNames(app, stage).prefix
        stack = StageNames(app, stage).stack
        updated = re.sub(r'^stack_name = ".*"$', f'stack_name = "{stack}"', section, flags=re.M)
        updated = re.sub(r'^s3_prefix = ".*"$', f's3_prefix = "{prefix}"', updated, flags=re.M)
        updated = re.sub(
            r"^(parameter_overrides = \"[^\"]*\bAppName=)[^\s\"]+",
            rf"\g<1>{app}",
            updated,
            flags=re.M,
        )
        text = text.replace(f"[{name}]\n{section}", f"[{name}]\n{updated}", 1)
    return text


def set_overrides(text: str, overrides: Mapping[str, str]) -> str:
    """samconfig.toml with these template parameters set in every config env's
    parameter_overrides (added, or replaced where set already)."""
    for key in overrides:
        if key in {"AppName", "Stage"}:
            raise ValueError(f"{key} is not set this way (--app-name; Stage is per config env)")
        if key not in read_template()["Parameters"]:
            raise ValueError(f"template.yaml has no parameter {key!r}")
        if re.search(r"[\s\"']", overrides[key]):
            raise ValueError(f"{key}: no spaces or quotes in a value here (edit samconfig.toml)")
    for env in CONFIG_ENVS:
        name = f"{env}.deploy.parameters"
        section = _section(text, name)
        match = re.search(r'^parameter_overrides = "(.*)"$', section, re.M)
        if not match:
            raise ValueError(f"samconfig.toml: [{name}] has no parameter_overrides")
        pairs = dict(item.split("=", 1) for item in match.group(1).split())
        pairs.update(overrides)
        line = 'parameter_overrides = "{}"'.format(" ".join(f"{k}={v}" for k, v in pairs.items()))
        updated = section.replace(match.group(0), line, 1)
        text = text.replace(f"[{name}]\n{section}", f"[{name}]\n{updated}", 1)
    return text


def render_zappa(settings: dict[str, Any], app: str) -> dict[str, Any]:
    """zappa_settings.json with every AppName-derived field of every stage for app."""
    rendered = json.loads(json.dumps(settings))
    for stage, config in rendered.items():
        names = StageNames(app, stage)
        if "extends" not in config:
            config["project_name"] = app
        config.update(names.zappa_fields())
        config.setdefault("environment_variables", {}).update(names.zappa_variables())
        # Each stage its own: a stage that extends another would inherit its subnets.
        config.setdefault("vpc_config", {})
    return rendered


def wire_stack(
    settings: dict[str, Any],
    stage: str,
    outputs: Mapping[str, str],
    api_url: str | None = None,
) -> dict[str, Any]:
    """The stage's vpc_config and database variables from its stack's outputs; without a
    VPC or a database in the stack, none of them. api_url, once Zappa has made the API,
    becomes PUBLIC_BASE_URL (ALLOWED_HOSTS follows it), unless that names a domain of
    your own already."""
    rendered = json.loads(json.dumps(settings))
    config = rendered[stage]
    if api_url:
        current = config.setdefault("environment_variables", {}).get("PUBLIC_BASE_URL", "")
        if not current or EXECUTE_API.search(current):
            config["environment_variables"]["PUBLIC_BASE_URL"] = api_url
    if "FunctionsSubnetIds" in outputs:
        config["vpc_config"] = {
            "SubnetIds": outputs["FunctionsSubnetIds"].split(","),
            "SecurityGroupIds": outputs["FunctionsSecurityGroupIds"].split(","),
        }
    else:
        config["vpc_config"] = {}
    variables = config.setdefault("environment_variables", {})
    for output, variable in DATABASE_VARIABLES.items():
        if output in outputs:
            variables[variable] = outputs[output]
        else:
            variables.pop(variable, None)
    return rendered


def stack_outputs(stack_name: str) -> dict[str, str]:
    import boto3  # only here: the rest works without AWS

    stack = boto3.client("cloudformation").describe_stacks(StackName=stack_name)["Stacks"][0]
    return {output["OutputKey"]: output["OutputValue"] for output in stack.get("Outputs", [])}


def zappa_api_url(names: StageNames) -> str | None:
    """The stage's API Gateway URL, once `zappa deploy` has made it: Zappa's own stack,
    named after the web function, holds the REST API as its resource `Api`."""
    import boto3
    from botocore.exceptions import ClientError

    cloudformation = boto3.client("cloudformation")
    try:
        resource = cloudformation.describe_stack_resource(
            StackName=names.prefix, LogicalResourceId="Api"
        )["StackResourceDetail"]
    except ClientError:  # no web stage deployed yet
        return None
    region = cloudformation.meta.region_name
    return (
        f"https://{resource['PhysicalResourceId']}.execute-api.{region}.amazonaws.com/{names.stage}"
    )


def deploy_policies(app: str) -> dict[str, dict[str, Any]]:
    """Policy name -> document, for app."""
    parts = json.loads(DEPLOY_POLICY.read_text().replace(APP_PLACEHOLDER, app))
    return {f"{app}-deploy-{part}": document for part, document in parts.items()}


def write_deploy_policies(app: str, folder: Path = DEPLOY_POLICY_DIR) -> list[str]:
    """One file per policy, and the commands that create them."""
    folder.mkdir(parents=True, exist_ok=True)
    commands = []
    for name, document in deploy_policies(app).items():
        path = folder / f"{name}.json"
        path.write_text(json.dumps(document, indent=2) + "\n")
        commands.append(
            f"aws iam create-policy --policy-name {name} "
            f"--policy-document file://{os.path.relpath(path)}"
        )
    return commands


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stack.stage_settings", description=__doc__)
    parser.add_argument("--app-name", help="choose AppName (written to samconfig.toml)")
    parser.add_argument(
        "--set",
        metavar="KEY=VALUE",
        action="append",
        default=[],
        help="a template parameter for sam deploy (samconfig.toml, every stage)",
    )
    parser.add_argument("--from-stack", metavar="STAGE", help="wire STAGE to its deployed stack")
    parser.add_argument("--shell", metavar="STAGE", help="print `export` lines for STAGE")
    parser.add_argument(
        "--deploy-policy", action="store_true", help="write the deploy policies to build/"
    )
    args = parser.parse_args(argv)
    try:
        samconfig = SAMCONFIG.read_text()
        app = validate_app_name(args.app_name or app_name(samconfig))
        malformed = [item for item in args.set if "=" not in item.strip("=")]
        if malformed:
            raise ValueError(f"--set takes KEY=VALUE, not {malformed}")
        samconfig = set_overrides(samconfig, dict(item.split("=", 1) for item in args.set))
    except ValueError as error:
        print(error, file=sys.stderr)
        return 2
    if args.shell:
        print(StageNames(app, args.shell).shell())
        return 0
    if args.deploy_policy:
        print("\n".join(write_deploy_policies(app)))
        return 0
    SAMCONFIG.write_text(render_samconfig(samconfig, app))
    settings = render_zappa(json.loads(ZAPPA_SETTINGS.read_text()), app)
    if args.from_stack:
        names = StageNames(app, args.from_stack)
        settings = wire_stack(
            settings, args.from_stack, stack_outputs(names.stack), zappa_api_url(names)
        )
    ZAPPA_SETTINGS.write_text(json.dumps(settings, indent=4) + "\n")
    print(f"AppName {app}: samconfig.toml and zappa_settings.json written", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
