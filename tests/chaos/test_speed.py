"""The chaos world's faster moto responses (speed.py) answer exactly as moto does."""

import json

import boto3
import pytest
from moto import mock_aws
from moto.dynamodb.responses import DynamoResult

from tests.aws_resources import create_resources
from tests.chaos import speed

TABLE = "app-test-tasks"
ITEM = {
    "id": {"S": "t1"},
    "status": {"S": "FAILED"},
    "not_before": {"N": "1772441000.125"},
    "copy_sending": {"BOOL": True},
    "run_after": {"NULL": True},
    "errors": {"L": [{"M": {"message": {"S": "no"}, "at": {"S": "2026-03-02"}}}]},
    "dead_letter": {"M": {"copy": {"N": "0"}, "sent": {"BOOL": False}}},
}


def calls(db):
    db.put_item(TableName=TABLE, Item=ITEM)
    db.put_item(TableName=TABLE, Item=ITEM, ReturnValues="ALL_OLD")
    db.get_item(TableName=TABLE, Key={"id": {"S": "t1"}}, ConsistentRead=True)
    db.get_item(TableName=TABLE, Key={"id": {"S": "missing"}})
    db.update_item(
        TableName=TABLE,
        Key={"id": {"S": "t1"}},
        UpdateExpression="SET #s = :s ADD attempts :one",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":s": {"S": "RUNNING"}, ":one": {"N": "1"}},
        ReturnValues="ALL_OLD",
    )
    db.update_item(
        TableName=TABLE,
        Key={"id": {"S": "t1"}},
        UpdateExpression="REMOVE copy_sending",
    )
    with pytest.raises(db.exceptions.ConditionalCheckFailedException) as refused:
        db.update_item(
            TableName=TABLE,
            Key={"id": {"S": "t1"}},
            UpdateExpression="SET #s = :s",
            ConditionExpression="#s = :ready",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={":s": {"S": "DONE"}, ":ready": {"S": "READY"}},
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    return refused.value.response["Item"]


def test_fast_item_responses_are_the_bodies_moto_would_send(monkeypatch):
    bodies = []

    def both(self, context):
        status, headers, body = speed._moto_execute(self, context)
        fast = speed._execute(self, context)
        if context.operation_model.name in speed.PLAIN_JSON:
            bodies.append(context.operation_model.name)
            assert (status, headers) == fast[:2]
            assert json.loads(body) == json.loads(fast[2])
        return status, headers, body

    monkeypatch.setattr(DynamoResult, "execute_result", both)
    with mock_aws():
        create_resources(boto3.session.Session(region_name="us-east-1"))
        db = boto3.client("dynamodb", region_name="us-east-1")
        old = calls(db)
    assert bodies.count("UpdateItem") == 2 and bodies.count("GetItem") == 2
    assert old["status"] == {"S": "RUNNING"}


def test_fast_item_responses_read_back_alike():
    with mock_aws():
        create_resources(boto3.session.Session(region_name="us-east-1"))
        db = boto3.client("dynamodb", region_name="us-east-1")
        calls(db)
        slow = db.get_item(TableName=TABLE, Key={"id": {"S": "t1"}})["Item"]
        with speed.fast_item_responses():
            fast = db.get_item(TableName=TABLE, Key={"id": {"S": "t1"}})["Item"]
    assert fast == slow and fast["attempts"] == {"N": "1"} and "copy_sending" not in fast
