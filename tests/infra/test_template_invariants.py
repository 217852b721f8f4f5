"""Rules template.yaml must keep, checked on the CloudFormation that AWS would receive.

The translated template is what counts: it includes what the SAM transform adds (event
source mappings, event-invoke configs, any generated role), which the SAM source hides.
"""

import fnmatch
import json

from django.conf import settings

from sqs_tasks.claim_check import RETENTION_TIERS
from sqs_tasks.item import FAILED_INDEX, FAILED_PROJECTION
from sqs_tasks.signing import MIN_KEY_LENGTH
from stack.conditions import deployed
from stack.template import Template, resources_of_type, walk
from tests.infra.task_queues import logical, sqs_task_queues

LAMBDA_FUNCTION = "AWS::Lambda::Function"
EVENT_SOURCE_MAPPING = "AWS::Lambda::EventSourceMapping"
SQS_QUEUE = "AWS::SQS::Queue"
# The only AWS-managed policy a role may carry: Lambda's VPC network-interface actions,
# which EC2 accepts on "*" only, attached only when the functions run in a VPC.
ALLOWED_MANAGED_POLICY = (
    "arn:${AWS::Partition}:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole"
)
# Actions IAM accepts on Resource "*" only (the Service Authorization Reference lists no
# resource type for them).
ONLY_ON_ANY_RESOURCE = {"cloudwatch:GetMetricData"}
# What every function reads at start (django_app/settings.py and the task backend).
REQUIRED_ENV = {
    "DJANGO_SETTINGS_MODULE",
    "APP_NAME",
    "APP_STAGE",
    "TASKS_TABLE",
    "TASKS_BUCKET",
    "LOG_LEVEL",
    "POWERTOOLS_SERVICE_NAME",
    "POWERTOOLS_METRICS_NAMESPACE",
    "DJANGO_SECRET_ID",
    "TASKS_SIGNING_SECRET_ID",
}
# The secrets each role reads at run time (names in the environment, values never).
SECRETS_READ = {
    "WebRole": {"DjangoSecretKey", "TasksSigningSecret"},
    # Settings need Django's key; the scheduler's relay signs what it enqueues.
    "SchedulerRole": {"DjangoSecretKey", "TasksSigningSecret"},
    # The runbook's commands verify and sign messages (tasks_redrive).
    "OperatorRole": {"DjangoSecretKey", "TasksSigningSecret"},
}


def target(reference: dict) -> str:
    """The logical id a Ref or GetAtt points at."""
    if "Ref" in reference:
        return reference["Ref"]
    return reference["Fn::GetAtt"][0]


def function_behind(translated: Template, reference: dict) -> str:
    """The function a mapping or schedule invokes, through its alias when it names one."""
    logical_id = target(reference)
    resource = translated["Resources"][logical_id]
    if resource["Type"] == "AWS::Lambda::Alias":
        return target(resource["Properties"]["FunctionName"])
    return logical_id


def sqs_mappings(translated: Template) -> dict[str, dict]:
    """Event source mappings whose source is one of the template's queues."""
    queues = resources_of_type(translated, SQS_QUEUE)
    return {
        logical_id: mapping["Properties"]
        for logical_id, mapping in resources_of_type(translated, EVENT_SOURCE_MAPPING).items()
        if target(mapping["Properties"]["EventSourceArn"]) in queues
    }


def policy_documents(translated: Template) -> list[tuple[str, dict]]:
    """Every permissions policy in the template (trust policies are not permissions)."""
    documents = []
    for logical_id, resource in translated["Resources"].items():
        properties = resource.get("Properties", {})
        for inline in properties.get("Policies", []):
            documents.append((f"{logical_id}/{inline['PolicyName']}", inline["PolicyDocument"]))
        if "PolicyDocument" in properties:
            documents.append((logical_id, properties["PolicyDocument"]))
    return documents


def statements(document: dict) -> list[dict]:
    """A document's statements, both branches of any Fn::If included."""
    return [
        node for node in walk(document["Statement"]) if isinstance(node, dict) and "Effect" in node
    ]


def as_list(value: object) -> list:
    return value if isinstance(value, list) else [value]


def test_every_sqs_event_reports_batch_item_failures(template, translated):
    for logical_id, function in resources_of_type(template, "AWS::Serverless::Function").items():
        for name, event in function["Properties"].get("Events", {}).items():
            if event["Type"] == "SQS":
                assert event["Properties"].get("FunctionResponseTypes") == [
                    "ReportBatchItemFailures"
                ], f"{logical_id}.{name}"
    mappings = sqs_mappings(translated)
    assert mappings, "no SQS event source mapping at all"
    for logical_id, mapping in mappings.items():
        assert mapping.get("FunctionResponseTypes") == ["ReportBatchItemFailures"], logical_id


def test_queue_visibility_covers_six_function_timeouts_plus_the_batching_window(translated):
    functions = resources_of_type(translated, LAMBDA_FUNCTION)
    queues = resources_of_type(translated, SQS_QUEUE)
    for logical_id, mapping in sqs_mappings(translated).items():
        timeout = functions[function_behind(translated, mapping["FunctionName"])]["Properties"][
            "Timeout"
        ]
        window = mapping.get("MaximumBatchingWindowInSeconds", 0)
        visibility = queues[target(mapping["EventSourceArn"])]["Properties"]["VisibilityTimeout"]
        assert visibility >= 6 * timeout + window, logical_id


def test_every_mapping_caps_its_concurrency_and_batch(translated):
    for logical_id, mapping in sqs_mappings(translated).items():
        assert 2 <= _mapping_concurrency(translated, mapping) <= 1000, logical_id
        assert 1 <= mapping["BatchSize"] <= 10, logical_id


def _mapping_concurrency(translated: Template, mapping: dict) -> int:
    concurrency = mapping["ScalingConfig"]["MaximumConcurrency"]
    if isinstance(concurrency, dict):  # Fn::If [IsProd, prod, dev]
        _, prod, dev = concurrency["Fn::If"]
        return min(prod, dev)
    return concurrency


def test_a_task_queue_redrives_to_its_own_dead_letter_queue_after_at_least_five_receives(
    translated,
):
    queues = resources_of_type(translated, SQS_QUEUE)
    dead_letter_queues = set()
    for logical_id, queue in queues.items():
        redrive = queue["Properties"].get("RedrivePolicy")
        if redrive is None:
            continue
        dlq = target(redrive["deadLetterTargetArn"])
        assert dlq not in dead_letter_queues, f"{logical_id} shares its DLQ"
        dead_letter_queues.add(dlq)
        # Room for every attempt and the receives that are not attempts (the backend
        # refuses a max_attempts that would not fit).
        assert redrive["maxReceiveCount"] == settings.TASKS["default"]["OPTIONS"].get(
            "MAX_RECEIVE_COUNT", 10
        ), logical_id
        # The longest SQS keeps anything: a backlog days deep still loses nothing. A
        # message SQS moves to its DLQ keeps its first enqueue time there, and the
        # reconciler (every five minutes) sends each one on as a fresh message.
        assert queue["Properties"]["MessageRetentionPeriod"] == 14 * 24 * 3600, logical_id
        assert queues[dlq]["Properties"]["MessageRetentionPeriod"] == 14 * 24 * 3600


def test_settings_queues_and_template_queues_match_one_to_one(template):
    """Each Django queue and each of its priority lanes has an SQS queue, a DLQ and a
    worker; the template has no other."""
    expected = set(sqs_task_queues())
    queue_names = {
        logical_id: queue["Properties"]["QueueName"]["Fn::Sub"]
        for logical_id, queue in resources_of_type(template, SQS_QUEUE).items()
    }
    prefix = "${AppName}-${Stage}-"
    task_queues = {
        name.removeprefix(prefix): logical_id
        for logical_id, name in queue_names.items()
        if not name.endswith("-dlq")
    }
    assert set(task_queues) == expected
    consumed = {}
    for logical_id, function in resources_of_type(template, "AWS::Serverless::Function").items():
        for event in function["Properties"].get("Events", {}).values():
            if event["Type"] == "SQS":
                consumed[target(event["Properties"]["Queue"])] = logical_id
    assert set(consumed) == set(task_queues.values()), "every task queue, and only those"
    for django_name, logical_id in task_queues.items():
        redrive = resources_of_type(template, SQS_QUEUE)[logical_id]["Properties"]["RedrivePolicy"]
        dlq = target(redrive["deadLetterTargetArn"])
        assert queue_names[dlq] == f"{prefix}{django_name}-dlq"
        worker = template["Resources"][consumed[logical_id]]["Properties"]
        assert worker["Handler"].startswith("functions/")


def test_the_default_task_time_limit_fits_in_every_worker(translated):
    options = settings.TASKS["default"]["OPTIONS"]
    functions = resources_of_type(translated, LAMBDA_FUNCTION)
    for logical_id, mapping in sqs_mappings(translated).items():
        function = functions[function_behind(translated, mapping["FunctionName"])]
        assert options["TIMEOUT"] + 5 < function["Properties"]["Timeout"], logical_id


def test_heavy_worker_has_more_memory_and_time_than_default(template):
    functions = resources_of_type(template, "AWS::Serverless::Function")
    default, heavy = (
        functions["WorkerFunctiondefault"]["Properties"],
        functions["WorkerFunctionheavy"]["Properties"],
    )
    default_memory = default.get("MemorySize", template["Globals"]["Function"]["MemorySize"])
    assert heavy["MemorySize"] > default_memory
    assert heavy["Timeout"] > default["Timeout"]


def test_every_function_gets_the_environment_it_needs(translated):
    for logical_id, function in resources_of_type(translated, LAMBDA_FUNCTION).items():
        variables = function["Properties"]["Environment"]["Variables"]
        assert set(variables) >= REQUIRED_ENV, logical_id
        assert variables["DJANGO_SETTINGS_MODULE"] == "django_app.settings"
        assert variables["TASKS_TABLE"] == {"Ref": "TasksTable"}
        assert variables["TASKS_BUCKET"] == {"Ref": "TasksBucket"}
        assert variables["DJANGO_SECRET_ID"] == {"Ref": "DjangoSecretKey"}
        assert variables["TASKS_SIGNING_SECRET_ID"] == {"Ref": "TasksSigningSecret"}
        # The stack's own database's (Database=aurora), the one given, or none.
        assert variables["DATABASE_SECRET_ARN"] == {
            "Fn::If": [
                "CreateDatabase",
                {"Fn::GetAtt": ["DatabaseCluster", "MasterUserSecret.SecretArn"]},
                {
                    "Fn::If": [
                        "HasDatabaseSecretArn",
                        {"Ref": "DatabaseSecretArn"},
                        {"Ref": "AWS::NoValue"},
                    ]
                },
            ]
        }

        # Tasks send emails with links into the web app (reports/notify.py,
        # accounts/verification.py): the web stage's URL, when the deploy gives it.
        assert variables["PUBLIC_BASE_URL"] == {
            "Fn::If": ["HasPublicBaseUrl", {"Ref": "PublicBaseUrl"}, {"Ref": "AWS::NoValue"}]
        }


def test_functions_run_python_3_12_handlers_from_functions_package(translated):
    for logical_id, function in resources_of_type(translated, LAMBDA_FUNCTION).items():
        properties = function["Properties"]
        assert properties["Runtime"] == "python3.12", logical_id
        assert properties["Handler"].startswith("functions/"), logical_id
        assert properties["Role"]["Fn::GetAtt"][1] == "Arn", "each function has its own role"


def test_no_policy_grants_a_wildcard_action(translated):
    for where, document in policy_documents(translated):
        for statement in statements(document):
            for action in as_list(statement.get("Action", [])):
                assert action != "*", where
                if statement["Effect"] == "Allow":
                    assert "*" not in action, f"{where}: {action}"


def test_no_policy_grants_on_a_wildcard_resource(translated):
    for where, document in policy_documents(translated):
        for statement in statements(document):
            if statement["Effect"] != "Allow":
                continue
            assert "NotResource" not in statement and "NotAction" not in statement, where
            if "*" in as_list(statement["Resource"]):
                actions = set(as_list(statement["Action"]))
                assert actions <= ONLY_ON_ANY_RESOURCE, f"{where}: {actions} on *"


def test_roles_carry_no_aws_managed_policy_but_vpc_access(translated):
    for logical_id, role in resources_of_type(translated, "AWS::IAM::Role").items():
        for node in walk(role["Properties"].get("ManagedPolicyArns", [])):
            if isinstance(node, str) and ":iam::aws:policy/" in node:
                assert node == ALLOWED_MANAGED_POLICY, f"{logical_id} attaches {node}"


def test_queues_table_and_buckets_are_encrypted(translated):
    for logical_id, queue in resources_of_type(translated, SQS_QUEUE).items():
        assert queue["Properties"].get("SqsManagedSseEnabled") is True, logical_id
    for logical_id, table in resources_of_type(translated, "AWS::DynamoDB::Table").items():
        assert table["Properties"]["SSESpecification"]["SSEEnabled"] is True, logical_id
    for logical_id, bucket in resources_of_type(translated, "AWS::S3::Bucket").items():
        rules = bucket["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        algorithm = rules[0]["ServerSideEncryptionByDefault"]["SSEAlgorithm"]
        assert algorithm in {"AES256", "aws:kms"}, logical_id


def test_buckets_block_public_access_and_refuse_plain_http(translated):
    policies = {
        target(policy["Properties"]["Bucket"]): policy["Properties"]["PolicyDocument"]
        for policy in resources_of_type(translated, "AWS::S3::BucketPolicy").values()
    }
    for logical_id, bucket in resources_of_type(translated, "AWS::S3::Bucket").items():
        block = bucket["Properties"]["PublicAccessBlockConfiguration"]
        assert all(block.values()) and len(block) == 4, logical_id
        (deny,) = statements(policies[logical_id])
        assert deny["Effect"] == "Deny"
        assert deny["Condition"] == {"Bool": {"aws:SecureTransport": False}}


def test_results_table_shape(translated):
    # As the defaults deploy it (TableCapacity=on-demand; test_table_capacity.py: provisioned).
    table = deployed(translated)["Resources"]["TasksTable"]["Properties"]
    assert table["TableName"] == {"Fn::Sub": "${AppName}-${Stage}-tasks"}
    assert table["BillingMode"] == "PAY_PER_REQUEST"
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    assert table["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    (index,) = table["GlobalSecondaryIndexes"]
    assert index["IndexName"] == FAILED_INDEX
    assert index["KeySchema"] == [
        {"AttributeName": "failed_key", "KeyType": "HASH"},
        {"AttributeName": "finished_at", "KeyType": "RANGE"},
    ]
    # Small index items (one WRU each), with what listing failures needs.
    assert index["Projection"] == {
        "ProjectionType": "INCLUDE",
        "NonKeyAttributes": list(FAILED_PROJECTION),
    }


def test_payload_bucket_expires_payloads_results_and_sensitive_values_but_keeps_uploads(
    translated,
):
    bucket = translated["Resources"]["TasksBucket"]["Properties"]
    assert bucket["BucketName"] == {"Fn::Sub": "${AppName}-${Stage}-payloads"}
    expiry = {
        rule["Prefix"]: rule["ExpirationInDays"]
        for rule in bucket["LifecycleConfiguration"]["Rules"]
        if "ExpirationInDays" in rule
    }
    # One rule per retention tier, for arguments and results (claim_check.py) and for
    # sensitive arguments (sensitive.py).
    assert expiry == {
        f"{prefix}/d{days}/": days
        for prefix in ("payloads", "results", "sensitive")
        for days in RETENTION_TIERS
    }


def test_every_function_logs_to_a_group_with_retention_the_workers_to_one(translated):
    """The workers share one group (Lambda names each stream after its function), so the
    saved queries cover a queue added later; the scheduler has its own."""
    groups = resources_of_type(translated, "AWS::Logs::LogGroup")
    for logical_id, function in resources_of_type(translated, LAMBDA_FUNCTION).items():
        group = groups[target(function["Properties"]["LoggingConfig"]["LogGroup"])]
        name = function["Properties"]["FunctionName"]["Fn::Sub"]
        expected = "${AppName}-${Stage}-workers" if "-worker-" in name else name
        assert group["Properties"]["LogGroupName"] == {"Fn::Sub": f"/aws/lambda/{expected}"}
        assert "RetentionInDays" in group["Properties"], logical_id


def test_alarms_watch_every_dead_letter_queue_backlog_and_worker(translated):
    watched = set()
    for alarm in resources_of_type(translated, "AWS::CloudWatch::Alarm").values():
        properties = alarm["Properties"]
        assert properties["AlarmActions"] == [{"Ref": "AlarmTopic"}]
        (dimension,) = properties["Dimensions"]
        if dimension["Name"] == "queue":  # the outbox's age, from our own metrics
            continue
        watched.add((properties["MetricName"], target(dimension["Value"])))
    queues = resources_of_type(translated, SQS_QUEUE)
    for logical_id, queue in queues.items():
        if "RedrivePolicy" in queue["Properties"]:
            assert ("ApproximateAgeOfOldestMessage", logical_id) in watched
        else:
            assert ("ApproximateNumberOfMessagesVisible", logical_id) in watched
    for logical_id, mapping in sqs_mappings(translated).items():
        worker = function_behind(translated, mapping["FunctionName"])
        assert {("Errors", worker), ("Throttles", worker)} <= watched, logical_id


def role_grants(translated: Template) -> dict[str, set[tuple[str, str]]]:
    """Role logical id -> (action, resource logical id) for every Allow on a resource of
    this template, from its inline policies, the policy resources attached to it and its
    customer-managed policies."""
    grants: dict[str, set[tuple[str, str]]] = {
        logical_id: set() for logical_id in resources_of_type(translated, "AWS::IAM::Role")
    }

    def add(role: str, document: dict) -> None:
        for statement in statements(document):
            if statement["Effect"] != "Allow":
                continue
            for resource in as_list(statement["Resource"]):
                if isinstance(resource, dict) and ("Ref" in resource or "Fn::GetAtt" in resource):
                    for action in as_list(statement["Action"]):
                        grants[role].add((action, target(resource)))

    for role, document in role_documents(translated):
        add(role, document)
    return grants


def role_documents(translated: Template) -> list[tuple[str, dict]]:
    """(role logical id, permissions policy) for each role's inline policies, the policy
    resources attached to it and its customer-managed policies."""
    resources = translated["Resources"]
    found = []
    for logical_id, role in resources_of_type(translated, "AWS::IAM::Role").items():
        for inline in role["Properties"].get("Policies", []):
            found.append((logical_id, inline["PolicyDocument"]))
        for node in walk(role["Properties"].get("ManagedPolicyArns", [])):
            if isinstance(node, dict) and "Ref" in node and node["Ref"] in resources:
                found.append((logical_id, resources[node["Ref"]]["Properties"]["PolicyDocument"]))
    for policy in resources_of_type(translated, "AWS::IAM::Policy").values():
        for role in policy["Properties"]["Roles"]:
            found.append((target(role), policy["Properties"]["PolicyDocument"]))
    return found


def test_each_queue_takes_messages_from_exactly_the_roles_that_send(translated):
    """Web, scheduler and every worker may send to every task queue (tasks enqueue
    tasks); only a queue's own worker receives from it and writes its dead-letter queue,
    which every worker may read to reconcile (sqs_tasks/operations/reconcile.py)."""
    grants = role_grants(translated)
    queues = [logical(queue) for queue in sqs_task_queues()]
    task_queues = {f"Queue{queue}" for queue in queues}
    dead_letter_queues = {f"DeadLetterQueue{queue}" for queue in queues}
    workers = {f"WorkerRole{queue}": queue for queue in queues}
    assert set(workers) <= set(grants)
    for role, granted in grants.items():
        sends = {resource for action, resource in granted if action == "sqs:SendMessage"}
        receives = {resource for action, resource in granted if action == "sqs:ReceiveMessage"}
        if role in workers:
            queue = workers[role]
            assert sends == task_queues | {f"DeadLetterQueue{queue}"}, role
            assert receives == {f"Queue{queue}"} | dead_letter_queues, role
        elif role in ("WebRole", "SchedulerRole"):
            assert sends - {"SchedulesDeadLetterQueue"} == task_queues, role
            assert not receives, role
        elif role == "OperatorRole":  # the runbook: redrive, purge, enqueue by hand
            assert sends == task_queues, role
            assert receives == dead_letter_queues, role
        else:
            assert not (sends | receives) & (task_queues | dead_letter_queues), role


def test_no_function_configuration_holds_a_secret(template, translated):
    """Anyone allowed lambda:GetFunctionConfiguration (ReadOnlyAccess) reads a function's
    environment: a dynamic reference resolved into it, or a key itself, would give them
    the key that signs tasks (issue 15). Secrets are named there and read at run time."""
    environments = [("Globals", template["Globals"]["Function"]["Environment"])]
    environments += [
        (logical_id, function["Properties"].get("Environment", {}))
        for logical_id, function in resources_of_type(translated, LAMBDA_FUNCTION).items()
    ]
    for where, environment in environments:
        for node in walk(environment):
            assert not (isinstance(node, str) and "{{resolve:" in node), where
        variables = environment.get("Variables", {})
        assert "DJANGO_SECRET_KEY" not in variables, where
        assert "SIGNING_KEY" not in "".join(variables), where


def test_each_role_reads_exactly_the_secrets_it_needs(translated):
    grants = role_grants(translated)
    secrets = set(resources_of_type(translated, "AWS::SecretsManager::Secret"))
    assert secrets == {"DjangoSecretKey", "TasksSigningSecret"}
    workers = {role for role in grants if role.startswith("WorkerRole")}
    assert workers
    for role, granted in grants.items():
        read = {resource for action, resource in granted if action.startswith("secretsmanager:")}
        assert {action for action, resource in granted if resource in secrets} <= {
            "secretsmanager:GetSecretValue"
        }, role
        expected = SECRETS_READ.get(role, set())
        if role in workers:
            expected = {"DjangoSecretKey", "TasksSigningSecret"}
        assert read & secrets == expected, role


def test_the_signing_secret_is_generated_as_the_keys_json_with_a_long_current_key(translated):
    secret = translated["Resources"]["TasksSigningSecret"]["Properties"]
    assert secret["Name"] == {"Fn::Sub": "${AppName}/${Stage}/tasks-signing-keys"}
    generated = secret["GenerateSecretString"]
    assert json.loads(generated["SecretStringTemplate"]) == {}
    assert generated["GenerateStringKey"] == "current"
    assert generated["PasswordLength"] >= MIN_KEY_LENGTH
    assert "SecretString" not in secret, "a key written in the template is in git"


def s3_grants(translated: Template, bucket: str) -> dict[str, set[tuple[str, str]]]:
    """Role -> (action, what) for every Allow on `bucket`: what is "" for the bucket
    itself, else the key pattern after it ("uploads/*")."""
    arn = f"${{{bucket}.Arn}}"
    found: dict[str, set[tuple[str, str]]] = {}

    def add(role: str, document: dict) -> None:
        for statement in statements(document):
            if statement["Effect"] != "Allow":
                continue
            for resource in as_list(statement["Resource"]):
                if resource == {"Fn::GetAtt": [bucket, "Arn"]}:
                    what = ""
                elif isinstance(resource, dict) and str(resource.get("Fn::Sub")).startswith(arn):
                    what = resource["Fn::Sub"].removeprefix(arn + "/")
                else:
                    continue
                for action in as_list(statement["Action"]):
                    found.setdefault(role, set()).add((action, what))

    for role, document in role_documents(translated):
        add(role, document)
    return found


def objects(grants: set[tuple[str, str]], action: str) -> set[str]:
    return {what for granted, what in grants if granted == action and what}


def test_each_role_touches_only_the_prefixes_of_the_tasks_bucket_it_uses(translated):
    """No role has the whole bucket; only workers read sensitive arguments back; the web
    app writes uploads (presigned) and reads the reports it serves."""
    grants = s3_grants(translated, "TasksBucket")
    workers = {role for role in grants if role.startswith("WorkerRole")}
    assert workers == {f"WorkerRole{logical(queue)}" for queue in sqs_task_queues()}
    assert set(grants) == workers | {"WebRole", "SchedulerRole", "OperatorRole"}
    for role, granted in grants.items():
        assert "*" not in {what for _, what in granted}, role
        readers_of_sensitive = "sensitive/*" in objects(granted, "s3:GetObject")
        assert readers_of_sensitive == (role in workers), role
    web = grants["WebRole"]
    assert objects(web, "s3:GetObject") == {"uploads/*", "reports/*", "payloads/*", "results/*"}
    assert objects(web, "s3:PutObject") == {"uploads/*", "payloads/*", "sensitive/*"}
    assert not objects(web, "s3:DeleteObject")
    assert grants["SchedulerRole"] == {("s3:PutObject", "payloads/*")}
    # The runbook's commands read large arguments and results, and a redrive's fresh copy.
    assert grants["OperatorRole"] == {
        (action, what)
        for action in ("s3:GetObject", "s3:PutObject")
        for what in ("payloads/*", "results/*")
    }
    for role in workers:
        assert objects(grants[role], "s3:PutObject") == {
            "payloads/*",
            "results/*",
            "sensitive/*",
            "reports/*",
        }, role
        # Workers never write uploads; the lifecycle rules delete everything else.
        assert objects(grants[role], "s3:DeleteObject") == {"uploads/*"}, role


def test_backups_have_a_versioned_bucket_that_only_the_backup_tasks_worker_writes(translated):
    from django_app.maintenance.tasks import back_up_database

    bucket = translated["Resources"]["BackupsBucket"]["Properties"]
    assert bucket["BucketName"] == {"Fn::Sub": "${AppName}-${Stage}-backups"}
    assert bucket["VersioningConfiguration"] == {"Status": "Enabled"}
    grants = s3_grants(translated, "BackupsBucket")
    writer = f"WorkerRole{back_up_database.queue_name}"
    assert set(grants) == {writer, "OperatorRole"}, "nobody else may plant or read a backup"
    # The operator restores (restore_backup): reads, never writes.
    assert grants["OperatorRole"] == {("s3:GetObject", "backups/*"), ("s3:ListBucket", "")}
    assert grants[writer] == {
        ("s3:PutObject", "backups/*"),
        ("s3:AbortMultipartUpload", "backups/*"),
        ("s3:DeleteObject", "backups/*"),  # pruning; versioning keeps what it deletes
        ("s3:ListBucket", ""),
    }
    for function in resources_of_type(translated, LAMBDA_FUNCTION).values():
        variables = function["Properties"]["Environment"]["Variables"]
        assert variables["BACKUP_BUCKET"] == {"Ref": "BackupsBucket"}


def queue_policies(translated: Template) -> dict[str, list[dict]]:
    """Queue logical id -> the statements of the queue policies naming it."""
    found: dict[str, list[dict]] = {}
    for policy in resources_of_type(translated, "AWS::SQS::QueuePolicy").values():
        for queue in policy["Properties"]["Queues"]:
            found.setdefault(target(queue), []).extend(
                statements(policy["Properties"]["PolicyDocument"])
            )
    return found


def role_name(translated: Template, role: str) -> str:
    return translated["Resources"][role]["Properties"]["RoleName"]["Fn::Sub"]


def test_only_the_roles_that_must_send_may_send_to_a_queue_and_only_over_tls(translated):
    """A resource policy holds whatever identity policies the account gains later: each
    task queue takes messages only from the enqueuing roles, each dead-letter queue only
    from its queue's worker; both refuse plain HTTP. Every role granted SendMessage on a
    queue (role_grants) is one its policy lets through."""
    policies = queue_policies(translated)
    grants = role_grants(translated)
    queues = [logical(queue) for queue in sqs_task_queues()]
    for queue in queues:
        for logical_id in (f"Queue{queue}", f"DeadLetterQueue{queue}"):
            tls, send = policies[logical_id]
            assert tls["Effect"] == "Deny" and tls["Principal"] == "*", logical_id
            assert tls["Action"] == "sqs:*"
            assert tls["Condition"] == {"Bool": {"aws:SecureTransport": False}}
            assert send["Effect"] == "Deny" and send["Principal"] == "*", logical_id
            assert send["Action"] == "sqs:SendMessage"
            assert target(tls["Resource"]) == target(send["Resource"]) == logical_id
            senders = {
                role
                for role, granted in grants.items()
                if ("sqs:SendMessage", logical_id) in granted
            }
            assert senders, logical_id
            ((operator, arns),) = send["Condition"].items()
            allowed = as_list(arns["aws:PrincipalArn"])
            names = [a["Fn::Sub"] for a in allowed if "Fn::Sub" in a]
            by_attribute = {target(a) for a in allowed if "Fn::GetAtt" in a}
            if logical_id.startswith("DeadLetterQueue"):
                assert operator == "ArnNotEquals"
                assert senders == by_attribute == {f"WorkerRole{queue}"}, logical_id
                assert not names
                continue
            assert operator == "ArnNotLike"
            assert by_attribute == {"WebRole", "SchedulerRole"}
            role_arn = "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/"
            patterns = {name.removeprefix(role_arn) for name in names}
            assert patterns == {"${AppName}-${Stage}-worker-*", "${AppName}-${Stage}-operator*"}
            for role in senders - by_attribute:
                assert any(
                    fnmatch.fnmatchcase(role_name(translated, role), pattern)
                    for pattern in patterns
                ), role
    # The other queues (the schedules' DLQ) have none: only AWS services send there.
    assert set(policies) == {
        f"{kind}{queue}" for kind in ("Queue", "DeadLetterQueue") for queue in queues
    }


def test_email_is_sent_only_as_the_apps_sender(translated):
    (email,) = [
        statement
        for _, document in policy_documents(translated)
        for statement in statements(document)
        if "ses:SendEmail" in as_list(statement.get("Action", []))
    ]
    assert set(as_list(email["Action"])) == {"ses:SendEmail", "ses:SendRawEmail"}
    assert email["Condition"] == {"StringEquals": {"ses:FromAddress": {"Ref": "EmailSender"}}}
    identities = [walk_text(resource) for resource in email["Resource"]]
    assert all("identity/*" not in identity for identity in identities), identities
    document = translated["Resources"]["TaskRuntimePolicy"]["Properties"]["PolicyDocument"]
    (conditional,) = [node for node in document["Statement"] if "Fn::If" in node]
    assert conditional["Fn::If"][0] == "HasEmailSender", "no sender, no mail"
    assert conditional["Fn::If"][2] == {"Ref": "AWS::NoValue"}


def walk_text(node: object) -> str:
    return " ".join(str(value) for value in walk(node) if isinstance(value, str))


def test_service_roles_trust_only_this_accounts_own_schedules(translated):
    """Confused deputy: EventBridge Scheduler assumes its role only for this account's
    schedule group. Lambda's and API Gateway's assumption of an execution role carries no
    source context AWS documents, so those trust policies cannot say more."""
    checked = 0
    for logical_id, role in resources_of_type(translated, "AWS::IAM::Role").items():
        for statement in role["Properties"]["AssumeRolePolicyDocument"]["Statement"]:
            services = set(as_list(statement["Principal"].get("Service", [])))
            if services & {"scheduler.amazonaws.com", "events.amazonaws.com"}:
                condition = statement["Condition"]
                assert condition["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
                source = condition["ArnEquals"]["aws:SourceArn"]["Fn::Sub"]
                assert source == (
                    "arn:${AWS::Partition}:scheduler:${AWS::Region}:${AWS::AccountId}"
                    ":schedule-group/default"
                ), logical_id
                checked += 1
    assert checked


def test_only_workers_touch_the_limits_counters_and_may_create_them(translated):
    """Limits are taken before an attempt and given back with its outcome, by the worker
    (sqs_tasks/limits/counters.py: conditional UpdateItem, PutItem for a new counter);
    enqueueing a limited task, on the web or the scheduler, does not touch them."""
    grants = role_grants(translated)
    for role, granted in grants.items():
        actions = {action for action, resource in granted if resource == "RateLimitsTable"}
        if role.startswith("WorkerRole"):
            assert actions == {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"}
        else:
            assert not actions, role


def test_the_roles_that_read_workflows_may_read_their_steps_together(translated):
    """A workflow's steps are read with BatchGetItem (results.get_many): by the engine on
    the workers, and by the web app's status page."""
    grants = role_grants(translated)
    readers = {role for role in grants if role.startswith("WorkerRole")} | {"WebRole"}
    for role in readers:
        assert ("dynamodb:BatchGetItem", "TasksTable") in grants[role], role
