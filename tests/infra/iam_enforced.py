"""template.yaml's roles in moto with IAM enforced: who runs as what, and moto made to judge
requests the way AWS does where it does not by itself.

moto (5.2) checks each request's signature and the identity policies of the caller (an IAM
user, or an assumed role): actions and resources, not conditions, not resource-based
policies (tests/infra/test_least_privilege.py says what that leaves unproven). Three gaps
would make it refuse what AWS allows, or allow too much, and are closed here:

- moto's CloudFormation ignores a role's `ManagedPolicyArns`, and keeps a role's inline
  `Policies` in a shape its own checks cannot read (a dict, not JSON): `complete_roles`
  attaches the first as the stack resolved them (moto's own resolver, so `!If` and `!Ref`
  follow the stack's conditions) and stores the second as JSON.
- moto names a batch call's action after its operation (`sqs:SendMessageBatch`); AWS
  authorises it with the single call's action (`sqs:SendMessage`): `BATCH_ACTIONS`; and a
  DynamoDB transaction item by item, with each item's action: `TRANSACT_ACTIONS`, and a
  PartiQL batch statement by statement, with each verb's action (`dynamodb:PartiQLInsert`
  on the table it names): `PARTIQL_VERBS`. And it
  prefixes CloudWatch's actions `monitoring:`, its signing name, not `cloudwatch:`.
- moto checks DynamoDB, Secrets Manager and SES requests, and SQS's GetQueueUrl, against
  the resource "*", which no resource-scoped statement matches: `_resources_of` names the
  table (or index), secret, sending identity or queue each request touches, as AWS does.
"""

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from typing import Any

import pytest
from moto.cloudformation.models import cloudformation_backends
from moto.cloudformation.parsing import clean_json
from moto.core import enable_iam_authentication
from moto.iam.access_control import IAMRequestBase
from moto.iam.models import iam_backends

from sqs_tasks import aws, queues
from stack.template import ROOT

ACCOUNT = "123456789012"
# moto names an action after the service's signing name; IAM's prefix differs for some.
SERVICE_PREFIXES = {"monitoring": "cloudwatch"}
# AWS authorises each batch operation with the permission of its single form.
BATCH_ACTIONS = {
    "sqs:SendMessageBatch": "sqs:SendMessage",
    "sqs:DeleteMessageBatch": "sqs:DeleteMessage",
    "sqs:ChangeMessageVisibilityBatch": "sqs:ChangeMessageVisibility",
}


# A transaction's item kinds, and the action AWS checks for each.
TRANSACT_ACTIONS = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
    "Get": "GetItem",
}


# PartiQL is authorised by what each statement does, not by the operation (ql-iam).
PARTIQL_VERBS = ("Insert", "Select", "Update", "Delete")


@dataclass(frozen=True, slots=True)
class Credentials:
    access_key_id: str
    secret_access_key: str
    session_token: str | None = None

    def environment(self) -> dict[str, str]:
        return {
            "AWS_ACCESS_KEY_ID": self.access_key_id,
            "AWS_SECRET_ACCESS_KEY": self.secret_access_key,
            **({"AWS_SESSION_TOKEN": self.session_token} if self.session_token else {}),
        }

    def client(self, session: Any, service: str) -> Any:
        return _client(self, session, service)


@cache  # clients are slow to make, and the tests make many of a few kinds
def _client(credentials: Credentials, session: Any, service: str) -> Any:
    return session.client(
        service,
        aws_access_key_id=credentials.access_key_id,
        aws_secret_access_key=credentials.secret_access_key,
        aws_session_token=credentials.session_token,
    )


@dataclass(frozen=True, slots=True)
class TaskQueue:
    name: str  # as tasks name it (queue_name)
    url: str
    dead_letter_url: str


@dataclass(frozen=True, slots=True)
class StackRoles:
    """The role each part runs as, found in the deployed stack: each SQS-triggered function's
    (by the queue it consumes), the scheduler function's, and the web stage's
    (zappa_settings.json role_name)."""

    web: str
    scheduler: str
    workers: dict[str, str]  # task queue name -> role ARN
    queues: dict[str, TaskQueue]

    @classmethod
    def discover(cls, session: Any, prefix: str, stage: str) -> "StackRoles":
        lambda_ = session.client("lambda")
        sqs = session.client("sqs")
        workers: dict[str, str] = {}
        task_queues: dict[str, TaskQueue] = {}
        functions = lambda_.list_functions()["Functions"]
        schedulers = {
            f["Role"] for f in functions if f["Handler"].startswith("functions/scheduler.")
        }
        # A mapping names its function by the alias it invokes (AutoPublishAlias).
        roles = {f["FunctionName"]: f["Role"] for f in functions}
        for mapping in lambda_.list_event_source_mappings()["EventSourceMappings"]:
            function_name = mapping["FunctionArn"].split(":function:", 1)[1].split(":")[0]
            queue_name = mapping["EventSourceArn"].rsplit(":", 1)[1]
            name = queue_name.removeprefix(prefix)
            workers[name] = roles[function_name]
            url = sqs.get_queue_url(QueueName=queue_name)["QueueUrl"]
            redrive = json.loads(
                sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["RedrivePolicy"])[
                    "Attributes"
                ]["RedrivePolicy"]
            )
            dead_letter = redrive["deadLetterTargetArn"].rsplit(":", 1)[1]
            task_queues[name] = TaskQueue(
                name, url, sqs.get_queue_url(QueueName=dead_letter)["QueueUrl"]
            )
        (scheduler,) = schedulers
        zappa = json.loads((ROOT / "zappa_settings.json").read_text())
        web_role = session.client("iam").get_role(RoleName=zappa[stage]["role_name"])
        return cls(web_role["Role"]["Arn"], scheduler, workers, task_queues)

    def all(self) -> dict[str, str]:
        """Every role by a readable name: web, scheduler, worker-<queue>."""
        return {
            "web": self.web,
            "scheduler": self.scheduler,
            **{f"worker-{queue}": role for queue, role in self.workers.items()},
        }


def complete_roles(session: Any, stack_name: str) -> None:
    """Each role of the stack as CloudFormation makes it on AWS (this module's docstring)."""
    backend = cloudformation_backends[ACCOUNT][session.region_name]
    (stack,) = [s for s in backend.stacks.values() if s.name == stack_name]
    resources = stack.resource_map
    iam = session.client("iam")
    for logical_id, resource in resources._resource_json_map.items():
        if resource.get("Type") != "AWS::IAM::Role":
            continue
        role_name = resources[logical_id].name
        role = iam_backends[ACCOUNT]["aws"].get_role(role_name)
        for name, document in role.policies.items():
            if isinstance(document, dict):
                role.policies[name] = json.dumps(document)
        arns = resource.get("Properties", {}).get("ManagedPolicyArns")
        for arn in clean_json(arns, resources) or [] if arns else []:
            iam.attach_role_policy(RoleName=role_name, PolicyArn=arn)


def assume(session: Any, role_arn: str, name: str) -> Credentials:
    """The role's credentials, as Lambda gets them for a function (its service principal
    assumes the role: moto cannot check a service's trust, so this call is not enforced)."""
    answer = session.client("sts").assume_role(RoleArn=role_arn, RoleSessionName=name)
    credentials = answer["Credentials"]
    return Credentials(
        credentials["AccessKeyId"], credentials["SecretAccessKey"], credentials["SessionToken"]
    )


def admin(session: Any, name: str = "operator") -> Credentials:
    """An IAM user allowed everything: the operator at a shell with administrator access."""
    iam = session.client("iam")
    iam.create_user(UserName=name)
    iam.put_user_policy(
        UserName=name,
        PolicyName="administrator",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
            }
        ),
    )
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return Credentials(key["AccessKeyId"], key["SecretAccessKey"])


@contextmanager
def acting_as(credentials: Credentials) -> Iterator[None]:
    """Within the block, the project's code calls AWS with these credentials, and moto
    refuses whatever their policies do not allow."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in credentials.environment().items():
            patch.setenv(name, value)
        if not credentials.session_token:
            patch.delenv("AWS_SESSION_TOKEN", raising=False)
        _forget_clients()
        try:
            with enable_iam_authentication():
                yield
        finally:
            _forget_clients()


@contextmanager
def enforced() -> Iterator[None]:
    """IAM enforced for calls made with explicit credentials (Credentials.client)."""
    with enable_iam_authentication():
        yield


def _forget_clients() -> None:
    aws.reset_clients()
    queues.clear_caches()


@contextmanager
def judged_like_aws() -> Iterator[None]:
    """moto's checks with the gaps in this module's docstring closed."""
    original = IAMRequestBase.check_action_permitted

    def check_action_permitted(request: IAMRequestBase, resource: str) -> None:
        service, _, operation = request._action.partition(":")
        action = f"{SERVICE_PREFIXES.get(service, service)}:{operation}"
        for checked, each in _authorisations(request, action, resource):
            request._action = checked
            original(request, each)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(IAMRequestBase, "check_action_permitted", check_action_permitted)
        yield


def _authorisations(request: IAMRequestBase, action: str, resource: str) -> list[tuple[str, str]]:
    """The (action, resource) pairs AWS checks for a request: a DynamoDB transaction is
    authorised item by item, with each item's own action (TransactWriteItems is no IAM
    action), a batch by its single form."""
    if action in ("dynamodb:TransactWriteItems", "dynamodb:TransactGetItems"):
        region = request._region
        pairs = []
        for item in json.loads(request._body)["TransactItems"]:
            ((kind, detail),) = item.items()
            table = f"arn:aws:dynamodb:{region}:{ACCOUNT}:table/{detail['TableName']}"
            pairs.append((f"dynamodb:{TRANSACT_ACTIONS[kind]}", table))
        return pairs
    if action in ("dynamodb:BatchExecuteStatement", "dynamodb:ExecuteStatement"):
        body = json.loads(request._body)
        statements = body.get("Statements") or [body]
        return [_partiql_authorisation(request._region, s["Statement"]) for s in statements]
    action = BATCH_ACTIONS.get(action, action)
    return [(action, each) for each in (_resources_of(request) if resource == "*" else [resource])]


def _partiql_authorisation(region: str, statement: str) -> tuple[str, str]:
    """A PartiQL statement is authorised by its verb (PartiQLInsert, ...) on its table."""
    verb = statement.split(None, 1)[0].capitalize()
    table = re.search(r'(?:INTO|FROM|UPDATE)\s+"?([\w.-]+)"?', statement, re.I)
    if verb not in PARTIQL_VERBS or table is None:
        raise ValueError(f"not a PartiQL statement these tests know: {statement[:80]}")
    return f"dynamodb:PartiQL{verb}", f"arn:aws:dynamodb:{region}:{ACCOUNT}:table/{table[1]}"


def _resources_of(request: IAMRequestBase) -> list[str]:
    """The resources a DynamoDB, Secrets Manager or SES request acts on, or an SQS request
    that names its queue by name (GetQueueUrl); "*" for others."""
    service, region = request._service, request._region
    try:
        body = json.loads(request._body or b"{}")
    except ValueError:
        body = {}
    if service == "dynamodb":
        tables = [body["TableName"]] if "TableName" in body else list(body.get("RequestItems", {}))
        index = f"/index/{body['IndexName']}" if "IndexName" in body else ""
        return [f"arn:aws:dynamodb:{region}:{ACCOUNT}:table/{t}{index}" for t in tables] or ["*"]
    if service == "sqs" and "QueueName" in body:
        return [f"arn:aws:sqs:{region}:{ACCOUNT}:{body['QueueName']}"]
    if service == "secretsmanager" and "SecretId" in body:
        from moto.secretsmanager.models import secretsmanager_backends

        secrets = secretsmanager_backends[ACCOUNT][region]
        return [secrets.describe_secret(body["SecretId"]).arn]
    if service == "ses":
        sender = body.get("FromEmailAddress") or request._data.get("Source")
        if sender:
            address = sender.rsplit("<", 1)[-1].rstrip(">")
            return [f"arn:aws:ses:{region}:{ACCOUNT}:identity/{address}"]
    return ["*"]
