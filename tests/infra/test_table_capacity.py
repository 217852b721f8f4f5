"""The results table's capacity mode (TableCapacity, issue 14): on demand by default and as
before; provisioned on request, with Application Auto Scaling target tracking on each
capacity of the table and of every index it has. Checked on the template with its
conditions decided for each mode (stack/conditions.py), translated by SAM, and deployed
into moto (which makes the table but not the scaling resources: checked on the template)."""

import warnings
from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws

from sqs_tasks.item import FAILED_INDEX
from stack import sam
from stack.conditions import deployed
from stack.template import Template, resources_of_type

from .conftest import REGION, translate_offline

PROVISIONED = {"TableCapacity": "provisioned"}
SCALABLE_TARGET = "AWS::ApplicationAutoScaling::ScalableTarget"
SCALING_POLICY = "AWS::ApplicationAutoScaling::ScalingPolicy"
CAPACITIES = {"Write": "WriteCapacityUnits", "Read": "ReadCapacityUnits"}


def table(rendered: Template) -> dict:
    return rendered["Resources"]["TasksTable"]["Properties"]


def scaling_resources(rendered: Template) -> dict[str, dict]:
    return {
        logical_id: resource
        for logical_id, resource in rendered["Resources"].items()
        if resource["Type"].startswith("AWS::ApplicationAutoScaling::")
    }


@pytest.fixture(scope="module")
def provisioned(template) -> Template:
    return deployed(template, PROVISIONED)


def test_on_demand_is_the_default_with_no_capacity_to_manage(template):
    rendered = deployed(template)
    assert template["Parameters"]["TableCapacity"]["Default"] == "on-demand"
    properties = table(rendered)
    assert properties["BillingMode"] == "PAY_PER_REQUEST"
    assert "ProvisionedThroughput" not in properties
    for index in properties["GlobalSecondaryIndexes"]:
        assert "ProvisionedThroughput" not in index, index["IndexName"]
    assert scaling_resources(rendered) == {}


def test_provisioned_starts_the_table_and_each_index_at_the_minimum(provisioned):
    properties = table(provisioned)
    assert properties["BillingMode"] == "PROVISIONED"
    minimum = {
        "ReadCapacityUnits": {"Ref": "TableMinReadCapacity"},
        "WriteCapacityUnits": {"Ref": "TableMinWriteCapacity"},
    }
    assert properties["ProvisionedThroughput"] == minimum
    for index in properties["GlobalSecondaryIndexes"]:
        assert index["ProvisionedThroughput"] == minimum, index["IndexName"]


def scaled(resource_id: dict) -> tuple[str, str]:
    """("table", "") or ("index", name) from a target's ResourceId."""
    text = resource_id["Fn::Sub"]
    assert text.startswith("table/${TasksTable}"), text
    rest = text.removeprefix("table/${TasksTable}")
    return ("index", rest.removeprefix("/index/")) if rest else ("table", "")


def test_provisioned_scales_each_capacity_of_the_table_and_of_every_index(provisioned):
    """One scalable target per capacity, of the table and of each index it has (an index
    added later without one would throttle the table's writes at its minimum)."""
    indexes = [index["IndexName"] for index in table(provisioned)["GlobalSecondaryIndexes"]]
    assert FAILED_INDEX in indexes
    wanted = {
        (kind, name, f"dynamodb:{kind}:{units}")
        for kind, name in [("table", ""), *(("index", index) for index in indexes)]
        for units in CAPACITIES.values()
    }
    found = set()
    for logical_id, target in resources_of_type(provisioned, SCALABLE_TARGET).items():
        properties = target["Properties"]
        assert properties["ServiceNamespace"] == "dynamodb", logical_id
        assert "RoleARN" not in properties  # the service-linked role, made on first use
        kind, name = scaled(properties["ResourceId"])
        dimension = properties["ScalableDimension"]
        found.add((kind, name, dimension))
        capacity = next(short for short, units in CAPACITIES.items() if dimension.endswith(units))
        assert properties["MinCapacity"] == {"Ref": f"TableMin{capacity}Capacity"}, logical_id
        assert properties["MaxCapacity"] == {"Ref": f"TableMax{capacity}Capacity"}, logical_id
    assert found == wanted


def test_each_target_tracks_its_own_utilization_at_the_target_parameter(provisioned):
    targets = resources_of_type(provisioned, SCALABLE_TARGET)
    policies = resources_of_type(provisioned, SCALING_POLICY)
    tracked = {}
    for logical_id, policy in policies.items():
        properties = policy["Properties"]
        assert properties["PolicyType"] == "TargetTrackingScaling", logical_id
        target = properties["ScalingTargetId"]["Ref"]
        configuration = properties["TargetTrackingScalingPolicyConfiguration"]
        assert configuration["TargetValue"] == {"Ref": "TableTargetUtilization"}
        metric = configuration["PredefinedMetricSpecification"]["PredefinedMetricType"]
        dimension = targets[target]["Properties"]["ScalableDimension"]
        capacity = metric.removeprefix("DynamoDB").removesuffix("CapacityUtilization")
        assert dimension.endswith(CAPACITIES[capacity]), (logical_id, metric, dimension)
        tracked[target] = logical_id
    assert set(tracked) == set(targets)  # every target has its policy, one each
    assert len(policies) == len(targets)


def test_every_scaling_resource_is_conditional_on_provisioned(template):
    for logical_id, resource in scaling_resources(template).items():
        assert resource.get("Condition") == "ProvisionedTable", logical_id


def test_the_utilization_target_stays_where_dynamodb_accepts_it(template):
    declared = template["Parameters"]["TableTargetUtilization"]
    assert declared["Default"] == 70
    assert (declared["MinValue"], declared["MaxValue"]) == (20, 90)  # DynamoDB's range


def test_the_rate_limits_table_stays_on_demand(provisioned):
    properties = provisioned["Resources"]["RateLimitsTable"]["Properties"]
    assert properties["BillingMode"] == "PAY_PER_REQUEST"


@pytest.mark.parametrize("parameters", [{}, PROVISIONED], ids=["on-demand", "provisioned"])
def test_sam_translates_either_mode(template, parameters):
    translated = translate_offline(template, parameters)
    assert translated["Resources"]["TasksTable"]["Type"] == "AWS::DynamoDB::Table"


@pytest.fixture(scope="module")
def provisioned_stack(fake_aws_env) -> Iterator[tuple[boto3.session.Session, set[str]]]:
    parameters = {
        "AppName": "steady",
        **PROVISIONED,
        "TableMinWriteCapacity": "7",
        "TableMinReadCapacity": "3",
    }
    with mock_aws():
        session = boto3.session.Session(region_name=REGION)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            sam.deploy(session, parameters=parameters)
        skipped = {
            str(warning.message).split("Tried to parse ")[1].split()[0]
            for warning in caught
            if "Tried to parse" in str(warning.message)
        }
        yield session, skipped


def test_a_provisioned_stack_deploys_its_table_at_the_minimum_given(provisioned_stack):
    session, skipped = provisioned_stack
    described = session.client("dynamodb").describe_table(TableName="steady-dev-tasks")["Table"]
    assert described["BillingModeSummary"]["BillingMode"] == "PROVISIONED"
    throughput = described["ProvisionedThroughput"]
    assert (throughput["WriteCapacityUnits"], throughput["ReadCapacityUnits"]) == (7, 3)
    (index,) = described["GlobalSecondaryIndexes"]
    assert index["IndexName"] == FAILED_INDEX
    index_throughput = index["ProvisionedThroughput"]
    assert (index_throughput["WriteCapacityUnits"], index_throughput["ReadCapacityUnits"]) == (7, 3)
    # moto's CloudFormation makes no scaling resources: the tests above check them.
    assert {SCALABLE_TARGET, SCALING_POLICY} <= skipped
