"""docs/deploy-policy.json: what whoever runs `sam deploy` and `zappa deploy` needs, and no
more: every resource type the template creates can be created and deleted, on resources
named for this app only, and each policy fits IAM's size limit."""

import fnmatch
import json

import pytest

from stack import stage_settings

APP = "shop"
ACCOUNT_REGION = "eu-west-1:123456789012"
ARN = f"arn:aws:{{service}}:{ACCOUNT_REGION}:{{rest}}"
# IAM caps a customer-managed policy at 6,144 characters, whitespace aside.
POLICY_LIMIT = 6144
# The longest AppName template.yaml accepts.
LONGEST_APP = "a" * 30


def arn(service: str, rest: str) -> str:
    return ARN.format(service=service, rest=rest)


# Per resource type: what CloudFormation calls, as the deployer, to create, update and
# delete one, and an ARN of one this app's stack would make.
RESOURCE_TYPES: dict[str, tuple[list[str], str]] = {
    "AWS::SQS::Queue": (
        ["sqs:CreateQueue", "sqs:DeleteQueue", "sqs:SetQueueAttributes", "sqs:GetQueueAttributes"],
        arn("sqs", f"{APP}-dev-default"),
    ),
    # A queue's resource policy is its Policy attribute.
    "AWS::SQS::QueuePolicy": (["sqs:SetQueueAttributes"], arn("sqs", f"{APP}-dev-default")),
    "AWS::DynamoDB::Table": (
        [
            "dynamodb:CreateTable",
            "dynamodb:DeleteTable",
            "dynamodb:DescribeTable",
            "dynamodb:UpdateTimeToLive",
            "dynamodb:UpdateContinuousBackups",
        ],
        arn("dynamodb", f"table/{APP}-dev-tasks"),
    ),
    "AWS::S3::Bucket": (
        [
            "s3:CreateBucket",
            "s3:DeleteBucket",
            "s3:PutEncryptionConfiguration",
            "s3:PutBucketPublicAccessBlock",
            "s3:PutBucketOwnershipControls",
            "s3:PutLifecycleConfiguration",
            "s3:PutBucketVersioning",  # the backups bucket
        ],
        f"arn:aws:s3:::{APP}-dev-payloads",
    ),
    "AWS::S3::BucketPolicy": (
        ["s3:PutBucketPolicy", "s3:DeleteBucketPolicy"],
        f"arn:aws:s3:::{APP}-dev-payloads",
    ),
    "AWS::IAM::Role": (
        [
            "iam:CreateRole",
            "iam:DeleteRole",
            "iam:GetRole",
            "iam:PutRolePolicy",
            "iam:DeleteRolePolicy",
            "iam:AttachRolePolicy",
            "iam:DetachRolePolicy",
            "iam:PassRole",
        ],
        f"arn:aws:iam::123456789012:role/{APP}-dev-worker-default",
    ),
    "AWS::IAM::Policy": (
        ["iam:PutRolePolicy", "iam:DeleteRolePolicy"],
        f"arn:aws:iam::123456789012:role/{APP}-dev-web",
    ),
    "AWS::IAM::ManagedPolicy": (
        [
            "iam:CreatePolicy",
            "iam:DeletePolicy",
            "iam:CreatePolicyVersion",
            "iam:DeletePolicyVersion",
            "iam:ListPolicyVersions",
        ],
        f"arn:aws:iam::123456789012:policy/{APP}-dev-infra-TaskRuntimePolicy-ABC123",
    ),
    "AWS::Lambda::Function": (
        [
            "lambda:CreateFunction",
            "lambda:DeleteFunction",
            "lambda:GetFunction",
            "lambda:UpdateFunctionCode",
            "lambda:UpdateFunctionConfiguration",
            "lambda:TagResource",
        ],
        arn("lambda", f"function:{APP}-dev-worker-default"),
    ),
    "AWS::Lambda::Version": (
        ["lambda:PublishVersion", "lambda:ListVersionsByFunction"],
        arn("lambda", f"function:{APP}-dev-scheduler"),
    ),
    "AWS::Lambda::Alias": (
        ["lambda:CreateAlias", "lambda:UpdateAlias", "lambda:DeleteAlias", "lambda:GetAlias"],
        arn("lambda", f"function:{APP}-dev-scheduler"),
    ),
    "AWS::Lambda::EventInvokeConfig": (
        ["lambda:PutFunctionEventInvokeConfig", "lambda:DeleteFunctionEventInvokeConfig"],
        arn("lambda", f"function:{APP}-dev-scheduler"),
    ),
    "AWS::Lambda::EventSourceMapping": (
        [
            "lambda:CreateEventSourceMapping",
            "lambda:DeleteEventSourceMapping",
            "lambda:GetEventSourceMapping",
        ],
        "*",
    ),
    "AWS::Logs::LogGroup": (
        ["logs:CreateLogGroup", "logs:DeleteLogGroup", "logs:PutRetentionPolicy"],
        arn("logs", f"log-group:/aws/lambda/{APP}-dev-workers"),
    ),
    "AWS::Logs::QueryDefinition": (["logs:PutQueryDefinition", "logs:DeleteQueryDefinition"], "*"),
    "AWS::SNS::Topic": (
        ["sns:CreateTopic", "sns:DeleteTopic", "sns:GetTopicAttributes"],
        arn("sns", f"{APP}-dev-alarms"),
    ),
    "AWS::SNS::Subscription": (
        ["sns:Subscribe", "sns:Unsubscribe"],
        arn("sns", f"{APP}-dev-alarms"),
    ),
    "AWS::CloudWatch::Alarm": (
        ["cloudwatch:PutMetricAlarm", "cloudwatch:DeleteAlarms", "cloudwatch:DescribeAlarms"],
        arn("cloudwatch", f"alarm:{APP}-dev-default-dlq-not-empty"),
    ),
    "AWS::CloudWatch::Dashboard": (
        ["cloudwatch:PutDashboard", "cloudwatch:DeleteDashboards", "cloudwatch:GetDashboard"],
        f"arn:aws:cloudwatch::123456789012:dashboard/{APP}-dev-tasks",
    ),
    "AWS::Scheduler::Schedule": (
        [
            "scheduler:CreateSchedule",
            "scheduler:UpdateSchedule",
            "scheduler:DeleteSchedule",
            "scheduler:GetSchedule",
        ],
        arn("scheduler", f"schedule/default/{APP}-dev-relay-outbox"),
    ),
    "AWS::SecretsManager::Secret": (
        [
            "secretsmanager:CreateSecret",
            "secretsmanager:DeleteSecret",
            "secretsmanager:DescribeSecret",
            "secretsmanager:GetSecretValue",
        ],
        arn("secretsmanager", f"secret:{APP}/dev/django-secret-key-AbCdEf"),
    ),
    # TableCapacity=provisioned: a scalable target's ARN ends in an id AWS makes up, so "*".
    "AWS::ApplicationAutoScaling::ScalableTarget": (
        [
            "application-autoscaling:RegisterScalableTarget",
            "application-autoscaling:DeregisterScalableTarget",
            "application-autoscaling:DescribeScalableTargets",
        ],
        "*",
    ),
    "AWS::ApplicationAutoScaling::ScalingPolicy": (
        [
            "application-autoscaling:PutScalingPolicy",
            "application-autoscaling:DeleteScalingPolicy",
            "application-autoscaling:DescribeScalingPolicies",
        ],
        "*",
    ),
    # The stack's VPC (Database=aurora): EC2 names no resources by name, so "*".
    "AWS::EC2::VPC": (["ec2:CreateVpc", "ec2:DeleteVpc", "ec2:ModifyVpcAttribute"], "*"),
    "AWS::EC2::Subnet": (["ec2:CreateSubnet", "ec2:DeleteSubnet"], "*"),
    "AWS::EC2::RouteTable": (["ec2:CreateRouteTable", "ec2:DeleteRouteTable"], "*"),
    "AWS::EC2::SubnetRouteTableAssociation": (
        ["ec2:AssociateRouteTable", "ec2:DisassociateRouteTable"],
        "*",
    ),
    "AWS::EC2::Route": (["ec2:CreateRoute", "ec2:DeleteRoute"], "*"),
    "AWS::EC2::InternetGateway": (
        ["ec2:CreateInternetGateway", "ec2:DeleteInternetGateway"],
        "*",
    ),
    "AWS::EC2::VPCGatewayAttachment": (
        ["ec2:AttachInternetGateway", "ec2:DetachInternetGateway"],
        "*",
    ),
    "AWS::EC2::EIP": (["ec2:AllocateAddress", "ec2:ReleaseAddress"], "*"),
    "AWS::EC2::NatGateway": (["ec2:CreateNatGateway", "ec2:DeleteNatGateway"], "*"),
    "AWS::EC2::SecurityGroup": (
        [
            "ec2:CreateSecurityGroup",
            "ec2:DeleteSecurityGroup",
            "ec2:AuthorizeSecurityGroupIngress",
            "ec2:RevokeSecurityGroupEgress",
        ],
        "*",
    ),
    "AWS::EC2::VPCEndpoint": (["ec2:CreateVpcEndpoint", "ec2:DeleteVpcEndpoints"], "*"),
    "AWS::RDS::DBSubnetGroup": (
        ["rds:CreateDBSubnetGroup", "rds:DeleteDBSubnetGroup"],
        arn("rds", f"subgrp:{APP}-dev-infra-databasesubnetgroup-abc"),
    ),
    "AWS::RDS::DBCluster": (
        [
            "rds:CreateDBCluster",
            "rds:DeleteDBCluster",
            "rds:ModifyDBCluster",
            "rds:CreateDBClusterSnapshot",
        ],
        arn("rds", f"cluster:{APP}-dev"),
    ),
    "AWS::RDS::DBInstance": (
        ["rds:CreateDBInstance", "rds:DeleteDBInstance"],
        arn("rds", f"db:{APP}-dev-infra-databaseinstance-abc"),
    ),
}
# Beyond the stack: SAM's artifact upload and Zappa's web stage.
TOOLS = {
    "sam deploy: the transforms": (
        ["cloudformation:CreateChangeSet"],
        "arn:aws:cloudformation:eu-west-1:aws:transform/Serverless-2016-10-31",
    ),
    "sam deploy: the stack": (
        [
            "cloudformation:CreateChangeSet",
            "cloudformation:ExecuteChangeSet",
            "cloudformation:DescribeStacks",
            "cloudformation:DeleteStack",
        ],
        arn("cloudformation", f"stack/{APP}-dev-infra/1234"),
    ),
    "zappa deploy: its API Gateway stack": (
        [
            "cloudformation:CreateStack",
            "cloudformation:UpdateStack",
            "cloudformation:DescribeStackResource",
        ],
        arn("cloudformation", f"stack/{APP}-dev/1234"),
    ),
    "zappa deploy: the package": (
        ["s3:PutObject", "s3:GetObject", "s3:DeleteObject"],
        f"arn:aws:s3:::{APP}-dev-deployments/{APP}-dev-1234.zip",
    ),
    "zappa deploy: the API": (
        ["apigateway:POST", "apigateway:GET", "apigateway:DELETE"],
        "arn:aws:apigateway:eu-west-1::/restapis/abc123",
    ),
    "zappa manage/invoke": (["lambda:InvokeFunction"], arn("lambda", f"function:{APP}-dev")),
    # TableCapacity=provisioned: what a scaling policy makes (alarms named after the table)
    # and the role Application Auto Scaling acts through, made on first use.
    "auto scaling: target tracking's alarms": (
        ["cloudwatch:PutMetricAlarm", "cloudwatch:DeleteAlarms", "cloudwatch:DescribeAlarms"],
        arn("cloudwatch", f"alarm:TargetTracking-table/{APP}-dev-tasks-AlarmHigh-0b7cf273"),
    ),
    "auto scaling: its service-linked role for DynamoDB": (
        ["iam:CreateServiceLinkedRole"],
        "arn:aws:iam::123456789012:role/aws-service-role/dynamodb.application-autoscaling"
        ".amazonaws.com/AWSServiceRoleForApplicationAutoScaling_DynamoDBTable",
    ),
    "sam deploy: its artifact bucket": (
        ["s3:PutObject", "s3:GetObject"],
        "arn:aws:s3:::aws-sam-cli-managed-default-samclisourcebucket-abc/shop-dev/x.zip",
    ),
}


def statements() -> list[dict]:
    return [s for d in stage_settings.deploy_policies(APP).values() for s in d["Statement"]]


def as_list(value: object) -> list:
    return value if isinstance(value, list) else [value]


def allows(action: str, resource: str) -> bool:
    return any(
        statement["Effect"] == "Allow"
        and any(fnmatch.fnmatchcase(action, pattern) for pattern in as_list(statement["Action"]))
        and any(
            fnmatch.fnmatchcase(resource, pattern) for pattern in as_list(statement["Resource"])
        )
        for statement in statements()
    )


def test_every_resource_type_the_template_creates_is_listed_here(translated):
    types = {resource["Type"] for resource in translated["Resources"].values()}
    assert types - set(RESOURCE_TYPES) == set(), "add it here and to docs/deploy-policy.json"


@pytest.mark.parametrize("what", [*RESOURCE_TYPES, *TOOLS])
def test_the_deployer_may_create_and_delete_it(what):
    actions, resource = {**RESOURCE_TYPES, **TOOLS}[what]
    missing = [action for action in actions if not allows(action, resource)]
    assert missing == [], f"{what}: {missing} on {resource}"


@pytest.mark.parametrize(
    "foreign",
    [
        arn("sqs", "other-dev-default"),
        arn("dynamodb", "table/other-dev-tasks"),
        "arn:aws:s3:::other-dev-payloads",
        "arn:aws:iam::123456789012:role/admin",
        arn("lambda", "function:other-dev"),
        arn("secretsmanager", "secret:other/dev/django-secret-key-AbCdEf"),
        arn("cloudformation", "stack/other-dev-infra/1234"),
    ],
)
def test_another_apps_resources_are_out_of_reach(foreign):
    granted = [
        action
        for statement in statements()
        if statement["Effect"] == "Allow"
        for action in as_list(statement["Action"])
        if any(fnmatch.fnmatchcase(foreign, p) for p in as_list(statement["Resource"]))
        # EC2 and Application Auto Scaling name no resource after the app (ids they make up).
        and not action.startswith(("ec2:", "kms:", "sts:", "ses:", "application-autoscaling:"))
        and "Condition" not in statement
    ]
    allowed_anywhere = {
        "cloudformation:ValidateTemplate",
        "cloudformation:ListStacks",
        "secretsmanager:GetRandomPassword",
        "lambda:GetEventSourceMapping",
        "lambda:ListEventSourceMappings",
        "logs:DescribeLogGroups",
        "logs:PutQueryDefinition",
        "logs:DeleteQueryDefinition",
        "logs:DescribeQueryDefinitions",
    }
    assert set(granted) <= allowed_anywhere, foreign


def test_no_statement_grants_a_service_wide_wildcard_action():
    for statement in statements():
        for action in as_list(statement["Action"]):
            assert "*" not in action, f"{statement['Sid']}: {action}"


@pytest.mark.parametrize("name", stage_settings.deploy_policies(LONGEST_APP))
def test_each_policy_fits_iams_limit_for_the_longest_app_name(name):
    document = stage_settings.deploy_policies(LONGEST_APP)[name]
    assert len(json.dumps(document, separators=(",", ":"))) < POLICY_LIMIT


def test_the_policies_are_written_with_this_apps_name(tmp_path):
    commands = stage_settings.write_deploy_policies(APP, tmp_path)
    assert [path.name for path in sorted(tmp_path.iterdir())] == [
        f"{APP}-deploy-core.json",
        f"{APP}-deploy-support.json",
    ]
    assert all(command.startswith("aws iam create-policy --policy-name ") for command in commands)
    for path in tmp_path.iterdir():
        assert stage_settings.APP_PLACEHOLDER not in path.read_text()
