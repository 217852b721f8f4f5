"""The VPC path of template.yaml: with an existing VPC the functions join it, with endpoints
for every AWS service the code calls, so that they need no NAT gateway; without one, nothing
about a VPC is created. Deployed into moto each way and read back through EC2 and Lambda."""

import re
from collections.abc import Iterator
from typing import NamedTuple

import boto3
import pytest
from moto import mock_aws

from stack import sam
from stack.artifact import SOURCES
from stack.template import ROOT, resources_of_type

from .conftest import REGION

pytestmark = pytest.mark.filterwarnings("ignore:Tried to parse:UserWarning")

FUNCTIONS = ("worker-default", "worker-heavy", "scheduler")
SECRET_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf"
PROXY = "app-dev.proxy-abcdefghijkl.us-east-1.rds.amazonaws.com"
# The services the functions' code calls, by boto3's names, and how each is reached from
# the VPC. SES's sending API has no VPC endpoint (template.yaml says so): mail from a VPC
# needs a NAT gateway.
ENDPOINTS = {
    "s3": "Gateway",
    "dynamodb": "Gateway",
    "sqs": "Interface",
    "secretsmanager": "Interface",
    "monitoring": "Interface",  # CloudWatch's API: boto3's "cloudwatch" client
}
ENDPOINT_OF_CLIENT = {"cloudwatch": "monitoring"}
NOT_REACHABLE_FROM_A_VPC = {"sesv2"}  # django-ses


class Stack(NamedTuple):
    session: boto3.session.Session
    parameters: dict[str, str]
    outputs: dict[str, str]
    endpoints: dict[str, dict]  # service -> endpoint, in the stack's VPC
    groups: dict[str, dict]  # name -> security group, the ones the stack created


def network(session: boto3.session.Session) -> dict[str, str]:
    """A VPC with two subnets, their route table and the database's security group."""
    ec2 = session.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24")["Subnet"]["SubnetId"]
        for i in (1, 2)
    ]
    database_group = ec2.create_security_group(GroupName="db", Description="db", VpcId=vpc)
    return {
        "VpcId": vpc,
        "SubnetIds": ",".join(subnets),
        "SecurityGroupIds": database_group["GroupId"],
        "RouteTableIds": ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"],
    }


def deploy(session: boto3.session.Session, parameters: dict[str, str]) -> Stack:
    """Deploy one stack and take what it created in EC2 (the stacks share one account)."""
    ec2 = session.client("ec2")
    before = {g["GroupId"] for g in ec2.describe_security_groups()["SecurityGroups"]}
    outputs = sam.deploy(session, parameters=parameters)
    return Stack(
        session,
        parameters,
        outputs,
        {
            e["ServiceName"].rsplit(".", 1)[1]: e
            for e in ec2.describe_vpc_endpoints()["VpcEndpoints"]
            if e["VpcId"] == parameters.get("VpcId")
        },
        {
            g["GroupName"]: g
            for g in ec2.describe_security_groups()["SecurityGroups"]
            if g["GroupId"] not in before
        },
    )


@pytest.fixture(scope="module")
def stacks(fake_aws_env) -> Iterator[dict[str, Stack]]:
    """No VPC (the defaults); a VPC with the stack's endpoints, a secret and a proxy; and a
    VPC whose endpoints exist already."""
    with mock_aws():
        session = boto3.session.Session(region_name=REGION)
        in_vpc = {
            **network(session),
            "DatabaseSecretArn": SECRET_ARN,
            "DatabaseProxyEndpoint": PROXY,
            "DatabaseName": "app",
        }
        own = {"AppName": "own", **network(session), "VpcEndpoints": "existing"}
        yield {
            "plain": deploy(session, {"AppName": "plain"}),
            "vpc": deploy(session, in_vpc),
            "existing": deploy(session, own),
        }


def functions(stack: Stack) -> dict[str, dict]:
    lambda_client = stack.session.client("lambda")
    app = stack.parameters.get("AppName", "app")
    return {
        name: lambda_client.get_function_configuration(FunctionName=f"{app}-dev-{name}")
        for name in FUNCTIONS
    }


def test_without_a_vpc_nothing_about_one_is_created(stacks):
    plain = stacks["plain"]
    assert plain.endpoints == {} and plain.groups == {}
    assert "FunctionsSecurityGroupId" not in plain.outputs
    for name, config in functions(plain).items():
        assert not config.get("VpcConfig", {}).get("SubnetIds"), name
        assert not {"DATABASE_HOST", "DATABASE_NAME"} & set(config["Environment"]["Variables"])


def test_every_network_resource_depends_on_a_vpc(template):
    """Given (SubnetIds) or made by the stack for its database (test_database.py)."""
    conditions = template["Conditions"]
    assert {"Condition": "UseVpc"} in conditions["CreateVpcEndpoints"]["Fn::And"]
    assert {"Condition": "CreateVpcEndpoints"} in conditions["CreateInterfaceEndpoints"]["Fn::And"]
    assert {"Condition": "CreateVpc"} in conditions["CreateNatGateway"]["Fn::And"]
    assert {"Condition": "CreateDatabase"} in conditions["CreateVpc"]["Fn::And"]
    network_resources = {
        logical_id: resource
        for logical_id, resource in template["Resources"].items()
        if resource["Type"].startswith("AWS::EC2::")
    }
    assert network_resources
    for logical_id, resource in network_resources.items():
        assert resource.get("Condition") in {
            "UseVpc",
            "CreateVpcEndpoints",
            "CreateInterfaceEndpoints",
            "CreateVpc",
            "CreateNatGateway",
            "CreateDatabase",
        }, logical_id


def test_in_a_vpc_the_functions_join_it_with_their_own_group_and_the_databases(stacks):
    stack = stacks["vpc"]
    own = stack.outputs["FunctionsSecurityGroupId"]
    assert stack.groups["app-dev-functions"]["GroupId"] == own
    for name, config in functions(stack).items():
        vpc = config["VpcConfig"]
        assert sorted(vpc["SubnetIds"]) == sorted(stack.parameters["SubnetIds"].split(","))
        assert vpc["SecurityGroupIds"] == [own, stack.parameters["SecurityGroupIds"]], name
        variables = config["Environment"]["Variables"]
        assert variables["DATABASE_HOST"] == PROXY and variables["DATABASE_NAME"] == "app"


def test_in_a_vpc_every_service_the_functions_call_has_an_endpoint(stacks):
    stack = stacks["vpc"]
    assert {s: e["VpcEndpointType"] for s, e in stack.endpoints.items()} == ENDPOINTS
    endpoint_group = stack.groups["app-dev-vpc-endpoints"]
    (rule,) = endpoint_group["IpPermissions"]
    assert (rule["IpProtocol"], rule["FromPort"], rule["ToPort"]) == ("tcp", 443, 443)
    assert [pair["GroupId"] for pair in rule["UserIdGroupPairs"]] == [
        stack.groups["app-dev-functions"]["GroupId"]
    ]
    subnets = sorted(stack.parameters["SubnetIds"].split(","))
    for service, endpoint in stack.endpoints.items():
        if endpoint["VpcEndpointType"] == "Gateway":
            assert endpoint["RouteTableIds"] == [stack.parameters["RouteTableIds"]], service
        else:
            assert endpoint["PrivateDnsEnabled"] is True, service
            assert sorted(endpoint["SubnetIds"]) == subnets, service
            assert [g["GroupId"] for g in endpoint["Groups"]] == [endpoint_group["GroupId"]]


def test_a_vpc_with_endpoints_of_its_own_gets_no_second_set(stacks):
    stack = stacks["existing"]
    assert stack.endpoints == {}
    assert set(stack.groups) == {"own-dev-functions"}
    assert stack.outputs["FunctionsSecurityGroupId"] == stack.groups["own-dev-functions"]["GroupId"]


def services_called_by_the_code() -> set[str]:
    """Every boto3 client the runtime sources create, and the mail backend's."""
    pattern = re.compile(r"""client\(\s*["']([a-z0-9-]+)["']""")
    found = set()
    for source in SOURCES:
        for path in (ROOT / source).rglob("*.py"):
            found |= set(pattern.findall(path.read_text()))
    return {ENDPOINT_OF_CLIENT.get(name, name) for name in found} | {"sesv2"}


def test_the_endpoints_cover_every_service_the_code_calls(template):
    declared = {
        resource["Properties"]["ServiceName"]["Fn::Sub"].rsplit(".", 1)[1]
        for resource in resources_of_type(template, "AWS::EC2::VPCEndpoint").values()
    }
    assert declared == set(ENDPOINTS)
    assert services_called_by_the_code() - declared == NOT_REACHABLE_FROM_A_VPC


def test_cloudformation_checks_that_a_vpcs_parts_come_together(translated):
    """moto does not evaluate Rules; CloudFormation does, before it creates anything."""
    rules = translated["Rules"]
    (vpc,) = rules["SubnetsNeedTheirVpc"]["Assertions"]
    assert vpc["Assert"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "VpcId"}, ""]}]}
    (routes,) = rules["GatewayEndpointsNeedRouteTables"]["Assertions"]
    assert routes["Assert"] == {"Fn::Not": [{"Fn::Contains": [{"Ref": "RouteTableIds"}, ""]}]}
