"""template.yaml deployed into moto's CloudFormation, read back through the service APIs.

moto applies most properties; a few it accepts but drops (the table's TTL and point-in-time
recovery, the buckets' public-access block and lifecycle, arm64, the DLQs' redrive-allow
policy, alarms, the secret). Those are checked on the translated template instead
(test_template_invariants.py).
"""

import json

from django.conf import settings

PREFIX = "app-dev"


def test_moto_skips_only_the_resource_types_known_to_be_unsupported(deployed):
    """A new resource type that moto cannot create must be checked some other way."""
    assert deployed.skipped_types <= {
        "AWS::SecretsManager::Secret",
        "AWS::S3::BucketPolicy",
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
        "TaskQueueNames": "default,heavy",
        "QueueUrldefault": f"{account_queue}-default",
        "QueueUrlheavy": f"{account_queue}-heavy",
        "DeadLetterQueueUrldefault": f"{account_queue}-default-dlq",
        "DeadLetterQueueUrlheavy": f"{account_queue}-heavy-dlq",
        "SchedulesDeadLetterQueueUrl": f"{account_queue}-schedules-dlq",
        "TasksTableName": f"{PREFIX}-tasks",
        "TasksBucketName": f"{PREFIX}-payloads",
        "DeploymentBucketName": f"{PREFIX}-deployments",
        "WebRoleName": f"{PREFIX}-web",
        "WebRoleArn": f"arn:aws:iam::123456789012:role/{PREFIX}-web",
        "DjangoSecretName": "app/dev/django-secret-key",
        "AlarmTopicArn": f"arn:aws:sns:us-east-1:123456789012:{PREFIX}-alarms",
        "OperatorRoleArn": f"arn:aws:iam::123456789012:role/{PREFIX}-operator",
    }


def test_task_queues_redrive_to_their_dead_letter_queues(deployed):
    session = deployed.session
    sqs = session.client("sqs")
    expected_timeout = {"default": "1200", "heavy": "5400"}
    for name in settings.TASKS["default"]["QUEUES"]:
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
    for name in ("default-dlq", "heavy-dlq", "schedules-dlq"):
        url = sqs.get_queue_url(QueueName=f"{PREFIX}-{name}")["QueueUrl"]
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        assert attributes["MessageRetentionPeriod"] == str(14 * 24 * 3600), name
        assert attributes["SqsManagedSseEnabled"] == "true", name


def test_each_queue_feeds_its_worker_with_partial_batch_responses(deployed):
    session = deployed.session
    mappings = session.client("lambda").list_event_source_mappings()["EventSourceMappings"]
    by_queue = {m["EventSourceArn"].rsplit(":", 1)[1]: m for m in mappings}
    assert set(by_queue) == {f"{PREFIX}-{name}" for name in settings.TASKS["default"]["QUEUES"]}
    expected = {
        "default": {"BatchSize": 10, "MaximumBatchingWindowInSeconds": 2, "Concurrency": 5},
        "heavy": {"BatchSize": 1, "MaximumBatchingWindowInSeconds": 0, "Concurrency": 2},
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
    for bucket in (f"{PREFIX}-payloads", f"{PREFIX}-deployments"):
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
    queues = settings.TASKS["default"]["QUEUES"]
    assert sorted(policies) == sorted(
        ["web", *(f"enqueue-{q}" for q in queues), *(f"count-{q}-dead-letters" for q in queues)]
    )
