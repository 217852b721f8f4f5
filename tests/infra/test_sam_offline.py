"""stack.sam: packaging, translating and deploying template.yaml without AWS."""

import io
import zipfile

import boto3
import pytest
from moto import mock_aws
from moto.server import ThreadedMotoServer

from stack import sam
from stack.artifact import SOURCES

from .conftest import REGION

# moto's CloudFormation skips some resource types with a warning; test_stack_deploy.py
# pins that list.
pytestmark = pytest.mark.filterwarnings("ignore:Tried to parse:UserWarning")

PROD_PARAMETERS = {
    "Stage": "prod",
    "DatabaseSecretArn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf",
    "AlarmEmail": "ops@example.com",
}


class RecordingS3:
    def __init__(self) -> None:
        self.objects: dict[tuple[str, str], bytes] = {}

    def put_object(self, *, Bucket: str, Key: str, Body: bytes) -> None:
        self.objects[(Bucket, Key)] = Body


def test_package_code_uploads_one_zip_of_the_runtime_sources_for_all_functions(template):
    s3 = RecordingS3()
    packaged = sam.package_code(template, s3=s3, bucket="artifacts")
    ((bucket, key),) = s3.objects
    uri = f"s3://{bucket}/{key}"
    assert packaged["Globals"]["Function"]["CodeUri"] == uri
    functions = sam.resources_of_type(packaged, sam.SERVERLESS_FUNCTION)
    assert {f["Properties"]["CodeUri"] for f in functions.values()} == {uri}
    names = zipfile.ZipFile(io.BytesIO(s3.objects[(bucket, key)])).namelist()
    assert {name.split("/")[0] for name in names} == set(SOURCES)
    assert not [name for name in names if "/tests/" in name]
    assert template["Globals"]["Function"]["CodeUri"] == ".", "the input is left as it was"


def test_package_code_is_content_addressed(template):
    first, second = RecordingS3(), RecordingS3()
    sam.package_code(template, s3=first, bucket="artifacts")
    sam.package_code(template, s3=second, bucket="artifacts")
    assert first.objects == second.objects


def test_translate_refuses_local_code_as_cloudformation_would(template):
    with pytest.raises(Exception, match="CodeUri"):
        sam.translate(template, region=REGION)


def test_translated_template_has_no_sam_resources_left(translated):
    types = {resource["Type"] for resource in translated["Resources"].values()}
    assert not [t for t in types if t.startswith("AWS::Serverless::")]
    assert "Transform" not in translated


def test_stack_is_named_after_app_and_stage_but_not_like_zappas():
    """Zappa's stack for the web stage's API Gateway is named after its function,
    ${project_name}-${stage}: `zappa deploy` would update a stack of that name."""
    assert sam.stack_name({}) == "app-dev-infra"
    assert sam.stack_name({"AppName": "shop", "Stage": "prod"}) == "shop-prod-infra"


def test_prod_stage_with_vpc_and_database_deploys_beside_dev(fake_aws_env):
    with mock_aws():
        session = boto3.session.Session(region_name=REGION)
        ec2 = session.client("ec2")
        vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
        group = ec2.create_security_group(GroupName="fn", Description="fn", VpcId=vpc)["GroupId"]
        routes = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
        sam.deploy(session)
        network = {
            "VpcId": vpc,
            "SubnetIds": subnet,
            "SecurityGroupIds": group,
            "RouteTableIds": routes,
        }
        outputs = sam.deploy(session, parameters={**PROD_PARAMETERS, **network})
        assert outputs["TasksTableName"] == "app-prod-tasks"
        lambda_client = session.client("lambda")
        config = lambda_client.get_function_configuration(FunctionName="app-prod-worker-heavy")
        assert config["VpcConfig"]["SubnetIds"] == [subnet]
        assert config["VpcConfig"]["SecurityGroupIds"] == [
            outputs["FunctionsSecurityGroupId"],
            group,
        ]
        variables = config["Environment"]["Variables"]
        assert variables["DATABASE_SECRET_ARN"] == PROD_PARAMETERS["DatabaseSecretArn"]
        assert variables["APP_STAGE"] == "prod"
        iam = session.client("iam")
        # Every function opens the database: an enqueue is an outbox row (contract 9).
        for role in (
            "app-prod-worker-default",
            "app-prod-worker-heavy",
            "app-prod-web",
            "app-prod-scheduler",
        ):
            assert "read-database-secret" in iam.list_role_policies(RoleName=role)["PolicyNames"]
        table = session.client("dynamodb").describe_table(TableName="app-prod-tasks")["Table"]
        assert table["DeletionProtectionEnabled"] is True
        concurrency = {
            m["EventSourceArn"].rsplit(":", 1)[1]: m["ScalingConfig"]["MaximumConcurrency"]
            for m in lambda_client.list_event_source_mappings()["EventSourceMappings"]
        }
        assert concurrency == {
            "app-dev-default": 5,
            "app-dev-heavy": 2,
            "app-dev-default-express": 2,
            "app-prod-default": 20,
            "app-prod-heavy": 5,
            "app-prod-default-express": 10,
        }
        # Urgent work always has capacity in prod: the express lane's worker has
        # concurrency of its own (as much as its mapping may use); no other worker does,
        # and nothing is reserved in dev (a new account has none to spare).
        reserved = {
            name: lambda_client.get_function_concurrency(FunctionName=name).get(
                "ReservedConcurrentExecutions"
            )
            for stage in ("dev", "prod")
            for name in (f"app-{stage}-worker-{queue}" for queue in ("default", "heavy"))
        }
        assert set(reserved.values()) == {None}, reserved
        express = lambda_client.get_function_concurrency(
            FunctionName="app-prod-worker-default-express"
        )
        assert express["ReservedConcurrentExecutions"] == 10
        dev_express = lambda_client.get_function_concurrency(
            FunctionName="app-dev-worker-default-express"
        )
        assert "ReservedConcurrentExecutions" not in dev_express


def test_deploy_works_against_a_moto_server_endpoint(fake_aws_env):
    """What the local stack does: the same template, into an embedded moto server."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        session = boto3.session.Session(region_name=REGION)
        outputs = sam.deploy(session, endpoint_url=endpoint)
        sqs = session.client("sqs", endpoint_url=endpoint)
        assert sqs.get_queue_url(QueueName="app-dev-heavy")["QueueUrl"].endswith("app-dev-heavy")
        assert outputs["WebRoleName"] == "app-dev-web"
    finally:
        server.stop()


def test_deploy_needs_a_region(monkeypatch):
    for name in ("AWS_DEFAULT_REGION", "AWS_REGION", "AWS_CONFIG_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    with mock_aws(), pytest.raises(ValueError, match="region"):
        sam.deploy(boto3.session.Session())
