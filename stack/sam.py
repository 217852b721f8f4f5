"""Deploy template.yaml without AWS: what `sam package` + `sam deploy` do, offline.

Used by the infrastructure tests (moto in-process) and by the local stack (an embedded moto
server): both get the same queues, table, bucket and functions that AWS would.

- `load_template` expands the AWS::LanguageExtensions transform (the task queue loop) for
  the deploy's parameters, as CloudFormation does first.
- `package_code` zips each function's local CodeUri, uploads it, and points CodeUri at the
  object, as `sam package` does (samtranslator refuses local paths).
- `translate` runs the SAM transform locally, as CloudFormation would on `sam deploy`
  (moto's CloudFormation cannot run transforms).
- `deploy` does both and creates the stack through the CloudFormation API it is given.

The code zipped here is the project's own packages without their requirements: enough for
moto, which never runs it. `make build-<LogicalId>` builds the real artifact.
"""

import copy
import hashlib
import json
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import boto3
from samtranslator.parser.parser import Parser
from samtranslator.translator.translator import Translator

from sqs_tasks.infra.cfn import parameter_values
from stack import emulator
from stack.artifact import copy_sources, zip_tree
from stack.template import ROOT, TEMPLATE, Template, load_template, resources_of_type

SERVERLESS_FUNCTION = "AWS::Serverless::Function"


def stack_name(parameters: Mapping[str, str]) -> str:
    """${AppName}-${Stage}-infra: not ${AppName}-${Stage}, which Zappa gives the stack of the
    web stage's API Gateway (named after its function); `zappa deploy` would update, and
    `zappa undeploy` delete, a stack of this name."""
    return f"{parameters.get('AppName', 'app')}-{parameters.get('Stage', 'dev')}-infra"


def package_code(template: Template, *, s3: Any, bucket: str, root: Path = ROOT) -> Template:
    """A copy of template whose local CodeUris are s3:// URIs of their uploaded zips."""
    packaged = copy.deepcopy(template)
    default_uri = packaged.get("Globals", {}).get("Function", {}).get("CodeUri")
    uploaded: dict[str, str] = {}
    for function in resources_of_type(packaged, SERVERLESS_FUNCTION).values():
        properties = function.setdefault("Properties", {})
        local = properties.get("CodeUri", default_uri)
        if not isinstance(local, str) or local.startswith("s3://"):
            continue
        if local not in uploaded:
            uploaded[local] = _upload_code(root / local, s3=s3, bucket=bucket)
        properties["CodeUri"] = uploaded[local]
    if default_uri in uploaded:
        packaged["Globals"]["Function"]["CodeUri"] = uploaded[default_uri]
    return packaged


def _upload_code(source: Path, *, s3: Any, bucket: str) -> str:
    with tempfile.TemporaryDirectory(prefix="sam-package-") as scratch:
        tree, archive = Path(scratch) / "tree", Path(scratch) / "code.zip"
        copy_sources(tree, root=source)
        zip_tree(tree, archive)
        body = archive.read_bytes()
    # Content-addressed, like sam package: an unchanged artifact keeps its key.
    key = f"code/{hashlib.md5(body, usedforsecurity=False).hexdigest()}.zip"
    s3.put_object(Bucket=bucket, Key=key, Body=body)
    return f"s3://{bucket}/{key}"


def translate(
    template: Template, *, region: str, parameters: Mapping[str, str] | None = None
) -> Template:
    """The CloudFormation template that the SAM transform makes of template, computed locally.

    Managed-policy names are not looked up in IAM: template.yaml names every policy by ARN.
    """
    translator = Translator(
        managed_policy_map=None,
        sam_parser=Parser(),
        boto_session=boto3.session.Session(region_name=region),
    )
    return translator.translate(
        copy.deepcopy(template),
        parameter_values=dict(parameters or {}),
        get_managed_policy_map=dict,
    )


def deploy(
    session: boto3.session.Session,
    *,
    parameters: Mapping[str, str] | None = None,
    endpoint_url: str | None = None,
    template_path: Path = TEMPLATE,
    artifact_bucket: str = "sam-offline-artifacts",
) -> dict[str, str]:
    """Package, translate and create the stack; returns its outputs (name -> value).

    session's region is the stack's. endpoint_url points every client at a moto server;
    leave it out under moto's in-process mock.
    """
    parameters = dict(parameters or {})
    region = session.region_name
    if not region:
        raise ValueError("The boto3 session needs a region (AWS_DEFAULT_REGION).")
    emulator.install()
    s3 = session.client("s3", endpoint_url=endpoint_url)
    _ensure_bucket(s3, artifact_bucket, region)
    expanded = load_template(template_path, parameters)
    packaged = package_code(expanded, s3=s3, bucket=artifact_bucket)
    translated = translate(packaged, region=region, parameters=parameters)
    cloudformation = session.client("cloudformation", endpoint_url=endpoint_url)
    name = stack_name(parameters)
    # Every value given, defaults included: moto splits a CommaDelimitedList only when it
    # is passed, and `!Join [",", !Ref TaskQueues]` needs the list.
    values = parameter_values(translated, parameters)
    cloudformation.create_stack(
        StackName=name,
        TemplateBody=json.dumps(translated),
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in values.items()],
        Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"],
    )
    cloudformation.get_waiter("stack_create_complete").wait(
        StackName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 120}
    )
    stack = cloudformation.describe_stacks(StackName=name)["Stacks"][0]
    return {output["OutputKey"]: output["OutputValue"] for output in stack.get("Outputs", [])}


def _ensure_bucket(s3: Any, bucket: str, region: str) -> None:
    """Create the artifact bucket once, as `sam deploy --resolve-s3` does."""
    if bucket in {b["Name"] for b in s3.list_buckets().get("Buckets", [])}:
        return
    location = {} if region == "us-east-1" else {"LocationConstraint": region}
    s3.create_bucket(Bucket=bucket, **({"CreateBucketConfiguration": location} if location else {}))
