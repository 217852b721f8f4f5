"""The operator role (template.yaml): what the runbook's commands need (tasks_failed,
tasks_show, tasks_redrive, tasks_purge, tasks_cancel), assumed with MFA from the account,
and nothing that changes code, roles or infrastructure."""

from django.conf import settings

from .test_template_invariants import policy_documents, role_grants, statements

QUEUES = settings.TASKS["default"]["QUEUES"]
DEAD_LETTER_WORK = {"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility"}
READ_AND_MARK_RESULTS = {
    "dynamodb:GetItem",
    "dynamodb:BatchGetItem",
    "dynamodb:Query",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
}


def test_only_people_of_this_account_with_mfa_may_assume_it(translated):
    role = translated["Resources"]["OperatorRole"]["Properties"]
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {
        "AWS": {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}
    }
    assert trust["Action"] == "sts:AssumeRole"
    assert trust["Condition"] == {"Bool": {"aws:MultiFactorAuthPresent": True}}
    assert role["RoleName"] == {"Fn::Sub": "${AppName}-${Stage}-operator"}
    assert "ManagedPolicyArns" not in role


def test_it_may_work_every_dead_letter_queue_and_send_to_every_queue(translated):
    grants = role_grants(translated)["OperatorRole"]
    for queue in QUEUES:
        for action in DEAD_LETTER_WORK:
            assert (action, f"DeadLetterQueue{queue}") in grants
        assert ("sqs:SendMessage", f"Queue{queue}") in grants
        # Never take live messages from the workers.
        assert ("sqs:ReceiveMessage", f"Queue{queue}") not in grants
    assert {(action, "TasksTable") for action in READ_AND_MARK_RESULTS} <= grants
    assert ("secretsmanager:GetSecretValue", "DjangoSecretKey") in grants


def test_it_grants_nothing_beyond_tasks_queues_results_payloads_and_the_key(translated):
    services = set()
    for where, document in policy_documents(translated):
        attached = where.startswith("OperatorRole/") or (
            translated["Resources"][where.split("/")[0]].get("Type") == "AWS::IAM::Policy"
            and {"Ref": "OperatorRole"}
            in translated["Resources"][where.split("/")[0]]["Properties"]["Roles"]
        )
        if attached:
            for statement in statements(document):
                actions = statement["Action"]
                for action in actions if isinstance(actions, list) else [actions]:
                    services.add(action.split(":")[0])
    assert services == {"sqs", "dynamodb", "s3", "secretsmanager"}


def test_the_stack_names_its_arn_for_the_ops_profile(translated):
    assert translated["Outputs"]["OperatorRoleArn"]["Value"] == {
        "Fn::GetAtt": ["OperatorRole", "Arn"]
    }
