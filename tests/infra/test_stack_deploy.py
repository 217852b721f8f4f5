"""template.yaml deployed into moto's CloudFormation, read back through the service APIs.

moto applies most properties; a few it accepts but drops (the table's TTL and point-in-time
recovery, the buckets' public-access block, versioning and lifecycle, arm64, the DLQs'
redrive-allow policy, the queue policies, alarms). Those are checked on the translated
template instead (test_template_invariants.py).
"""

import json

import boto3
from moto import mock_aws

from sqs_tasks.signing import SecretKeys, Signer, StaticKeys
from stack import sam
from tests.infra.task_queues import sqs_task_queues

PREFIX = "app-dev"


def test_moto_skips_only_the_resource_types_known_to_be_unsupported(deployed):
    """A new resource type that moto cannot create must be checked some other way."""
    assert deployed.skipped_types <= {
        "AWS::S3::BucketPolicy",
        "AWS::SQS::QueuePolicy",  # checked in test_template_invariants.py
        "AWS::CloudWatch::Alarm",
        "AWS::Lambda::EventInvokeConfig",
        "AWS::SNS::Subscription",
        "AWS::Scheduler::Schedule",  # checked in test_schedules.py
        "AWS::Logs::QueryDefinition",  # checked in test_console.py
        "AWS::CloudWatch::Dashboard",  # checked in test_console.py
    }


def test_outputs_give_the_web_stage_everything_it_needs(deployed):
    outputs = deployed.outputs
    account_queue = f"https://sqs.us-east-1.amazonaws.com/123456789012/{PREFIX}"
    assert outputs == {
        "QueueNamePrefix": f"{PREFIX}-",
        "TaskQueueNames": "default,heavy,default-express",
        "QueueUrldefault": f"{account_queue}-default",
        "QueueUrlheavy": f"{account_queue}-heavy",
        "QueueUrldefaultexpress": f"{account_queue}-default-express",
        "DeadLetterQueueUrldefault": f"{account_queue}-default-dlq",
        "DeadLetterQueueUrlheavy": f"{account_queue}-heavy-dlq",
        "DeadLetterQueueUrldefaultexpress": f"{account_queue}-default-express-dlq",
        "SchedulesDeadLetterQueueUrl": f"{account_queue}-schedules-dlq",
        "TasksTableName": f"{PREFIX}-tasks",
        "TasksBucketName": f"{PREFIX}-payloads",
        "BackupsBucketName": f"{PREFIX}-backups",
        "DeploymentBucketName": f"{PREFIX}-deployments",
        "WebRoleName": f"{PREFIX}-web",
        "WebRoleArn": f"arn:aws:iam::123456789012:role/{PREFIX}-web",
        "DjangoSecretName": "app/dev/django-secret-key",
        "TasksSigningSecretName": "app/dev/tasks-signing-keys",
        "AlarmTopicArn": f"arn:aws:sns:us-east-1:123456789012:{PREFIX}-alarms",
        "OperatorRoleArn": f"arn:aws:iam::123456789012:role/{PREFIX}-operator",
    }


def test_task_queues_redrive_to_their_dead_letter_queues(deployed):
    session = deployed.session
    sqs = session.client("sqs")
    expected_timeout = {"default": "1200", "heavy": "5400", "default-express": "1200"}
    for name in sqs_task_queues():
        url = sqs.get_queue_url(QueueName=f"{PREFIX}-{name}")["QueueUrl"]
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        redrive = json.loads(attributes["RedrivePolicy"])
        assert redrive["deadLetterTargetArn"].endswith(f":{PREFIX}-{name}-dlq")
        assert redrive["maxReceiveCount"] == 10
        assert attributes["VisibilityTimeout"] == expected_timeout[name]
        assert attributes["SqsManagedSseEnabled"] == "true"
        assert attributes["MessageRetentionPeriod"] == str(14 * 24 * 3600)
        assert attributes["MaximumMessageSize"] == str(1024 * 1024)


def test_dead_letter_queues_keep_messages_fourteen_days(deployed):
    session = deployed.session
    sqs = session.client("sqs")
    for name in ("default-dlq", "heavy-dlq", "default-express-dlq", "schedules-dlq"):
        url = sqs.get_queue_url(QueueName=f"{PREFIX}-{name}")["QueueUrl"]
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        assert attributes["MessageRetentionPeriod"] == str(14 * 24 * 3600), name
        assert attributes["SqsManagedSseEnabled"] == "true", name


def test_each_queue_feeds_its_worker_with_partial_batch_responses(deployed):
    session = deployed.session
    mappings = session.client("lambda").list_event_source_mappings()["EventSourceMappings"]
    by_queue = {m["EventSourceArn"].rsplit(":", 1)[1]: m for m in mappings}
    assert set(by_queue) == {f"{PREFIX}-{name}" for name in sqs_task_queues()}
    expected = {
        "default": {"BatchSize": 10, "MaximumBatchingWindowInSeconds": 2, "Concurrency": 5},
        "heavy": {"BatchSize": 1, "MaximumBatchingWindowInSeconds": 0, "Concurrency": 2},
        "default-express": {"BatchSize": 10, "MaximumBatchingWindowInSeconds": 2, "Concurrency": 2},
    }
    for name, want in expected.items():
        mapping = by_queue[f"{PREFIX}-{name}"]
        # Through the alias `live`, a published version (moto reports the version it names).
        assert f":function:{PREFIX}-worker-{name}:" in mapping["FunctionArn"]
        assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
        assert mapping["BatchSize"] == want["BatchSize"]
        assert mapping["MaximumBatchingWindowInSeconds"] == want["MaximumBatchingWindowInSeconds"]
        assert mapping["ScalingConfig"] == {"MaximumConcurrency": want["Concurrency"]}
        assert mapping["State"] == "Enabled"


def test_functions_have_their_handlers_sizes_and_environment(deployed):
    session = deployed.session
    lambda_client = session.client("lambda")
    expected = {
        "worker-default": ("functions/worker.handler", 180, 512),
        "worker-heavy": ("functions/worker.handler", 900, 2048),
        "scheduler": ("functions/scheduler.handler", 30, 256),
    }
    for name, (handler, timeout, memory) in expected.items():
        config = lambda_client.get_function_configuration(FunctionName=f"{PREFIX}-{name}")
        assert (config["Handler"], config["Timeout"], config["MemorySize"]) == (
            handler,
            timeout,
            memory,
        )
        assert config["Runtime"] == "python3.12"
        assert config["Role"].endswith(f":role/{PREFIX}-{name}")
        variables = config["Environment"]["Variables"]
        assert variables["APP_NAME"] == "app" and variables["APP_STAGE"] == "dev"
        assert variables["TASKS_TABLE"] == f"{PREFIX}-tasks"
        assert variables["TASKS_BUCKET"] == f"{PREFIX}-payloads"
        assert variables["POWERTOOLS_SERVICE_NAME"] == name
        assert "DATABASE_SECRET_ARN" not in variables
        assert "PUBLIC_BASE_URL" not in variables


def test_results_table_is_on_demand_with_the_failed_tasks_index(deployed):
    session = deployed.session
    table = session.client("dynamodb").describe_table(TableName=f"{PREFIX}-tasks")["Table"]
    assert table["KeySchema"] == [{"AttributeName": "id", "KeyType": "HASH"}]
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    (index,) = table["GlobalSecondaryIndexes"]
    assert index["IndexName"] == "failed"
    assert [key["AttributeName"] for key in index["KeySchema"]] == ["failed_key", "finished_at"]
    assert index["Projection"]["ProjectionType"] == "INCLUDE"
    assert table["DeletionProtectionEnabled"] is False  # dev; prod turns it on


def test_buckets_exist_encrypted(deployed):
    session = deployed.session
    s3 = session.client("s3")
    for bucket in (f"{PREFIX}-payloads", f"{PREFIX}-deployments", f"{PREFIX}-backups"):
        rules = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]
        assert rules["Rules"][0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"


def test_log_groups_exist_with_retention(deployed):
    session = deployed.session
    groups = session.client("logs").describe_log_groups(logGroupNamePrefix="/aws/lambda/")
    retention = {group["logGroupName"]: group["retentionInDays"] for group in groups["logGroups"]}
    assert retention == {
        f"/aws/lambda/{PREFIX}": 14,
        f"/aws/lambda/{PREFIX}-workers": 14,
        f"/aws/lambda/{PREFIX}-scheduler": 14,
    }


def test_web_role_is_assumable_by_lambda_and_api_gateway(deployed):
    session = deployed.session
    iam = session.client("iam")
    role = iam.get_role(RoleName=f"{PREFIX}-web")["Role"]
    (statement,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert sorted(statement["Principal"]["Service"]) == [
        "apigateway.amazonaws.com",
        "lambda.amazonaws.com",
    ]
    policies = iam.list_role_policies(RoleName=f"{PREFIX}-web")["PolicyNames"]
    queues = sqs_task_queues()
    assert sorted(policies) == sorted(
        ["web", *(f"enqueue-{q}" for q in queues), *(f"count-{q}-dead-letters" for q in queues)]
    )


def test_the_functions_read_the_signing_keys_the_stack_generated(deployed):
    """Each function is given the signing secret's id; what it reads there signs and
    verifies (a key of 64 characters, no previous keys yet)."""
    session = deployed.session
    lambda_client = session.client("lambda")
    secrets = session.client("secretsmanager")
    for name in ("worker-default", "worker-heavy", "scheduler"):
        config = lambda_client.get_function_configuration(FunctionName=f"{PREFIX}-{name}")
        variables = config["Environment"]["Variables"]
        secret_id = variables["TASKS_SIGNING_SECRET_ID"]
        assert secret_id.startswith("arn:aws:secretsmanager:")
        assert secrets.describe_secret(SecretId=secret_id)["Name"] == "app/dev/tasks-signing-keys"
        assert secrets.describe_secret(SecretId=variables["DJANGO_SECRET_ID"])["Name"] == (
            "app/dev/django-secret-key"
        )
    value = json.loads(
        secrets.get_secret_value(SecretId="app/dev/tasks-signing-keys")["SecretString"]
    )
    assert set(value) == {"current"} and len(value["current"]) == 64
    signer = Signer(SecretKeys("app/dev/tasks-signing-keys"))
    signature = signer.sign("body")
    assert Signer(StaticKeys(value["current"])).verify("body", signature) is None


def test_workers_mail_only_as_the_sender_with_links_to_the_web_stage(fake_aws_env):
    """Deployed with PublicBaseUrl and EmailSender, every function gets the URL (the
    emails tasks send link under it) and the sender; the workers may send as that address
    or its domain only. Without them (the module's stack), neither is set."""
    url = "https://abc123.execute-api.us-east-1.amazonaws.com/dev"
    parameters = {"AppName": "links", "PublicBaseUrl": url, "EmailSender": "tasks@example.com"}
    with mock_aws():
        session = boto3.session.Session(region_name="us-east-1")
        # Its own stack: the module's (app-dev) may be deployed in this moto already.
        sam.deploy(session, parameters=parameters)
        lambda_client = session.client("lambda")
        for name in ("worker-default", "worker-heavy", "scheduler"):
            config = lambda_client.get_function_configuration(FunctionName=f"links-dev-{name}")
            variables = config["Environment"]["Variables"]
            assert variables["PUBLIC_BASE_URL"] == url, name
            assert variables["DJANGO_DEFAULT_FROM_EMAIL"] == "tasks@example.com", name
        iam = session.client("iam")
        statements = [
            statement
            for policy in iam.list_policies(Scope="Local")["Policies"]
            for statement in iam.get_policy_version(
                PolicyArn=policy["Arn"], VersionId=policy["DefaultVersionId"]
            )["PolicyVersion"]["Document"]["Statement"]
        ]
        # The module's stack (no sender) may share this moto: it has no Email statement.
        (email,) = [statement for statement in statements if statement.get("Sid") == "Email"]
        identity = "arn:aws:ses:us-east-1:123456789012:identity/"
        assert email["Resource"] == [f"{identity}tasks@example.com", f"{identity}example.com"]
        assert email["Condition"] == {"StringEquals": {"ses:FromAddress": "tasks@example.com"}}
