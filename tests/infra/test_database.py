"""The stack's own database (Database=aurora): Aurora Serverless v2 PostgreSQL in a minimal
VPC the stack makes, wired into every function without hand-editing; and nothing of it with
the default (Database=none). Deployed into moto each way and read back through RDS, EC2,
Secrets Manager, IAM and Lambda (stack/emulator.py adds the RDS cluster moto's
CloudFormation lacks)."""

import json
from collections.abc import Iterator
from typing import NamedTuple

import boto3
import pytest
from moto import mock_aws

from stack import sam

from .conftest import REGION
from .test_vpc import network

pytestmark = pytest.mark.filterwarnings("ignore:Tried to parse:UserWarning")

FUNCTIONS = ("worker-default", "worker-heavy", "scheduler")
ROLES = ("worker-default", "worker-heavy", "scheduler", "web")
INTERFACE_SERVICES = {"sqs", "secretsmanager", "monitoring"}


class Stack(NamedTuple):
    session: boto3.session.Session
    app: str
    outputs: dict[str, str]
    vpcs: list[dict]  # the VPCs this stack made

    def client(self, service: str):
        return self.session.client(service)

    def functions(self) -> dict[str, dict]:
        lambda_client = self.client("lambda")
        return {
            name: lambda_client.get_function_configuration(FunctionName=f"{self.app}-dev-{name}")
            for name in FUNCTIONS
        }

    def in_vpc(self, described: list[dict]) -> list[dict]:
        ids = {vpc["VpcId"] for vpc in self.vpcs}
        return [thing for thing in described if thing.get("VpcId") in ids]


def deploy(session: boto3.session.Session, parameters: dict[str, str]) -> Stack:
    ec2 = session.client("ec2")
    before = {vpc["VpcId"] for vpc in ec2.describe_vpcs()["Vpcs"]}
    outputs = sam.deploy(session, parameters=parameters)
    made = [vpc for vpc in ec2.describe_vpcs()["Vpcs"] if vpc["VpcId"] not in before]
    return Stack(session, parameters["AppName"], outputs, made)


@pytest.fixture(scope="module")
def stacks(fake_aws_env) -> Iterator[dict[str, Stack]]:
    """Without a database; with one and a NAT gateway (the defaults for Database=aurora);
    with one and no internet at all; with one in a VPC of your own."""
    with mock_aws():
        session = boto3.session.Session(region_name=REGION)
        yield {
            "none": deploy(session, {"AppName": "plain"}),
            "aurora": deploy(session, {"AppName": "app", "Database": "aurora"}),
            "closed": deploy(
                session, {"AppName": "closed", "Database": "aurora", "NatGateway": "none"}
            ),
            "own-vpc": deploy(
                session, {"AppName": "own", "Database": "aurora", **network(session)}
            ),
        }


def cluster(stack: Stack) -> dict:
    (found,) = stack.client("rds").describe_db_clusters(DBClusterIdentifier=f"{stack.app}-dev")[
        "DBClusters"
    ]
    return found


def test_without_the_option_the_stack_makes_no_database_and_no_network(stacks):
    stack = stacks["none"]
    clusters = stack.client("rds").describe_db_clusters()["DBClusters"]
    assert sorted(c["DBClusterIdentifier"] for c in clusters) == [
        "app-dev",
        "closed-dev",
        "own-dev",
    ]
    assert stack.vpcs == []
    assert not {"DatabaseSecretArn", "DatabaseHost", "FunctionsSubnetIds"} & set(stack.outputs)
    for name, config in stack.functions().items():
        assert not config.get("VpcConfig", {}).get("SubnetIds"), name
        assert not [v for v in config["Environment"]["Variables"] if v.startswith("DATABASE_")]


def test_the_database_is_aurora_serverless_v2_postgresql_that_can_pause(stacks):
    found = cluster(stacks["aurora"])
    assert found["Engine"] == "aurora-postgresql"
    assert found["EngineVersion"] == "17.7"  # pausing at 0 needs 16.3 or 17.4 on
    assert found["ServerlessV2ScalingConfiguration"]["MinCapacity"] == 0
    assert found["ServerlessV2ScalingConfiguration"]["MaxCapacity"] == 2
    assert found["StorageEncrypted"] is True
    assert found["DatabaseName"] == "app"
    (member,) = found["DBClusterMembers"]
    instance = (
        stacks["aurora"]
        .client("rds")
        .describe_db_instances(DBInstanceIdentifier=member["DBInstanceIdentifier"])["DBInstances"][
            0
        ]
    )
    assert instance["DBInstanceClass"] == "db.serverless"
    assert instance["PubliclyAccessible"] is False


def test_the_database_lives_in_two_private_subnets_of_two_zones(stacks):
    stack = stacks["aurora"]
    (vpc,) = stack.vpcs
    ec2 = stack.client("ec2")
    group = stack.client("rds").describe_db_subnet_groups(
        DBSubnetGroupName=cluster(stack)["DBSubnetGroup"]
    )["DBSubnetGroups"][0]
    subnet_ids = sorted(s["SubnetIdentifier"] for s in group["Subnets"])
    assert subnet_ids == sorted(stack.outputs["FunctionsSubnetIds"].split(","))
    subnets = ec2.describe_subnets(SubnetIds=subnet_ids)["Subnets"]
    assert {s["VpcId"] for s in subnets} == {vpc["VpcId"]}
    assert len({s["AvailabilityZone"] for s in subnets}) == 2
    assert not [s for s in subnets if s["MapPublicIpOnLaunch"]]


def test_every_function_joins_the_vpc_and_gets_the_databases_secret_host_and_name(stacks):
    stack = stacks["aurora"]
    found = cluster(stack)
    secret_arn = found["MasterUserSecret"]["SecretArn"]
    assert stack.outputs["DatabaseSecretArn"] == secret_arn
    assert stack.outputs["DatabaseHost"] == found["Endpoint"]
    subnets = sorted(stack.outputs["FunctionsSubnetIds"].split(","))
    own_group = stack.outputs["FunctionsSecurityGroupId"]
    for name, config in stack.functions().items():
        assert sorted(config["VpcConfig"]["SubnetIds"]) == subnets, name
        assert config["VpcConfig"]["SecurityGroupIds"] == [own_group], name
        variables = config["Environment"]["Variables"]
        assert variables["DATABASE_SECRET_ARN"] == secret_arn, name
        assert variables["DATABASE_HOST"] == found["Endpoint"], name
        assert variables["DATABASE_NAME"] == "app", name
    # RDS manages the password: a secret with the user and password, which
    # django_app/database reads, the host and name coming from beside it.
    value = json.loads(
        stack.client("secretsmanager").get_secret_value(SecretId=secret_arn)["SecretString"]
    )
    assert {"username", "password"} <= set(value)


def test_only_the_functions_reach_the_database_port(stacks):
    stack = stacks["aurora"]
    ec2 = stack.client("ec2")
    (group_id,) = cluster(stack)["VpcSecurityGroups"]
    (group,) = ec2.describe_security_groups(GroupIds=[group_id["VpcSecurityGroupId"]])[
        "SecurityGroups"
    ]
    (rule,) = group["IpPermissions"]
    assert (rule["IpProtocol"], rule["FromPort"], rule["ToPort"]) == ("tcp", 5432, 5432)
    assert [p["GroupId"] for p in rule["UserIdGroupPairs"]] == [
        stack.outputs["FunctionsSecurityGroupId"]
    ]
    assert not rule.get("IpRanges")


def test_every_role_that_connects_may_read_the_managed_secret_and_no_other(stacks):
    stack = stacks["aurora"]
    iam = stack.client("iam")
    secret_arn = stack.outputs["DatabaseSecretArn"]
    for role in ROLES:
        document = iam.get_role_policy(
            RoleName=f"app-dev-{role}", PolicyName="read-database-secret"
        )["PolicyDocument"]
        (statement,) = document["Statement"]
        assert statement["Action"] == "secretsmanager:GetSecretValue"
        assert statement["Resource"] == secret_arn, role


def routes(stack: Stack) -> dict[str, list[dict]]:
    """Route table id -> its routes, for the tables of the VPC the stack made."""
    tables = stack.client("ec2").describe_route_tables()["RouteTables"]
    return {t["RouteTableId"]: t["Routes"] for t in stack.in_vpc(tables)}


def private_route_table(stack: Stack) -> str:
    """The table the S3 gateway endpoint routes in: the private subnets' (moto keeps no
    subnet associations made by CloudFormation: test_both_private_subnets_use_one_table)."""
    (table,) = endpoints(stack)["s3"]["RouteTableIds"]
    return table


def endpoints(stack: Stack) -> dict[str, dict]:
    found = stack.client("ec2").describe_vpc_endpoints()["VpcEndpoints"]
    return {e["ServiceName"].rsplit(".", 1)[1]: e for e in stack.in_vpc(found)}


def test_with_a_nat_gateway_the_private_subnets_reach_the_internet(stacks):
    """The exchange-rate API and SES's sending API (no VPC endpoint) need it."""
    stack = stacks["aurora"]
    ec2 = stack.client("ec2")
    (nat,) = stack.in_vpc(ec2.describe_nat_gateways()["NatGateways"])
    assert nat["SubnetId"] not in stack.outputs["FunctionsSubnetIds"].split(",")
    private = routes(stack)[private_route_table(stack)]
    assert [
        r.get("NatGatewayId") for r in private if r.get("DestinationCidrBlock") == "0.0.0.0/0"
    ] == [nat["NatGatewayId"]]
    # Gateway endpoints are free and keep S3 and DynamoDB traffic off the NAT; the NAT
    # reaches SQS, Secrets Manager and CloudWatch, for less than interface endpoints.
    found = endpoints(stack)
    assert {s: e["VpcEndpointType"] for s, e in found.items()} == {
        "s3": "Gateway",
        "dynamodb": "Gateway",
    }
    for endpoint in found.values():
        assert endpoint["RouteTableIds"] == [private_route_table(stack)]


def test_without_a_nat_gateway_every_aws_service_has_an_endpoint_and_nothing_the_internet(
    stacks,
):
    stack = stacks["closed"]
    ec2 = stack.client("ec2")
    assert stack.in_vpc(ec2.describe_nat_gateways()["NatGateways"]) == []
    for table, table_routes in routes(stack).items():
        assert not [r for r in table_routes if r.get("DestinationCidrBlock") == "0.0.0.0/0"], table
    found = endpoints(stack)
    assert {s for s, e in found.items() if e["VpcEndpointType"] == "Interface"} == (
        INTERFACE_SERVICES
    )
    assert {s for s, e in found.items() if e["VpcEndpointType"] == "Gateway"} == {"s3", "dynamodb"}


def test_both_private_subnets_use_one_route_table(template):
    associations = {
        resource["Properties"]["SubnetId"]["Ref"]: resource["Properties"]["RouteTableId"]["Ref"]
        for resource in template["Resources"].values()
        if resource["Type"] == "AWS::EC2::SubnetRouteTableAssociation"
    }
    assert associations == {
        "PrivateSubnetA": "PrivateRouteTable",
        "PrivateSubnetB": "PrivateRouteTable",
        "PublicSubnet": "PublicRouteTable",
    }


def test_the_database_keeps_a_snapshot_when_the_stack_goes(template):
    database = template["Resources"]["DatabaseCluster"]
    assert database["DeletionPolicy"] == database["UpdateReplacePolicy"] == "Snapshot"
    properties = database["Properties"]
    assert properties["ManageMasterUserPassword"] is True
    assert "MasterUserPassword" not in properties
    assert properties["ServerlessV2ScalingConfiguration"]["SecondsUntilAutoPause"] == 300
    assert template["Parameters"]["DatabaseMinCapacity"]["Default"] == 0


def test_cloudformation_refuses_two_databases(translated):
    (assertion,) = translated["Rules"]["OneDatabase"]["Assertions"]
    assert assertion["Assert"] == {"Fn::Equals": [{"Ref": "DatabaseSecretArn"}, ""]}


def test_in_a_vpc_of_your_own_the_database_joins_your_subnets_and_makes_no_network(stacks):
    stack = stacks["own-vpc"]
    assert stack.vpcs == []
    ec2 = stack.client("ec2")
    given = sorted(stack.outputs["FunctionsSubnetIds"].split(","))
    (vpc_id,) = {s["VpcId"] for s in ec2.describe_subnets(SubnetIds=given)["Subnets"]}
    assert [n for n in ec2.describe_nat_gateways()["NatGateways"] if n["VpcId"] == vpc_id] == []
    group = stack.client("rds").describe_db_subnet_groups(
        DBSubnetGroupName=cluster(stack)["DBSubnetGroup"]
    )["DBSubnetGroups"][0]
    assert sorted(s["SubnetIdentifier"] for s in group["Subnets"]) == given
    own_group, database_admits = stack.outputs["FunctionsSecurityGroupIds"].split(",")
    for name, config in stack.functions().items():
        assert sorted(config["VpcConfig"]["SubnetIds"]) == given, name
        assert config["VpcConfig"]["SecurityGroupIds"] == [own_group, database_admits], name
        assert config["Environment"]["Variables"]["DATABASE_HOST"] == cluster(stack)["Endpoint"]
