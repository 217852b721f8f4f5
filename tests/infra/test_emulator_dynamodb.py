"""stack.emulator_dynamodb answers the outbox's INSERT batches as DynamoDB does, through
moto's own item checks, and leaves every other statement to moto."""

import boto3
import pytest
from botocore.exceptions import ClientError
from moto.dynamodb.exceptions import MockValidationException
from moto.dynamodb.models import dynamodb_backends

from sqs_tasks.results import insert_statement
from stack import emulator_dynamodb

TABLE = "emulated"


@pytest.fixture
def db(aws):
    client = boto3.client("dynamodb", region_name="us-east-1")
    client.create_table(
        TableName=TABLE,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return client


def item(key: str, **values: dict) -> dict:
    return {"id": {"S": key}, **values}


def test_each_statement_inserts_only_if_absent_and_on_its_own(db):
    db.put_item(TableName=TABLE, Item=item("there", v={"S": "old"}))
    statements = [
        insert_statement(TABLE, item("new", v={"M": {"l": {"L": [{"N": "1.5"}, {"NULL": True}]}}})),
        insert_statement(TABLE, item("there", v={"S": "new"})),
    ]
    new, there = db.batch_execute_statement(Statements=statements)["Responses"]
    assert "Error" not in new and there["Error"]["Code"] == "DuplicateItem"
    assert db.get_item(TableName=TABLE, Key={"id": {"S": "there"}})["Item"]["v"] == {"S": "old"}
    written = db.get_item(TableName=TABLE, Key={"id": {"S": "new"}})["Item"]
    assert written == item("new", v={"M": {"l": {"L": [{"N": "1.5"}, {"NULL": True}]}}})


def test_a_statement_a_put_would_be_refused_for_is_refused_alone(db):
    too_large = item("big", v={"S": "x" * 410_000})
    no_key = {"v": {"S": "no id"}}
    answers = db.batch_execute_statement(
        Statements=[
            insert_statement(TABLE, too_large),
            insert_statement(TABLE, no_key),
            insert_statement("missing-table", item("a")),
            insert_statement(TABLE, item("fine")),
        ]
    )["Responses"]
    assert [a.get("Error", {}).get("Code") for a in answers] == [
        "ValidationError",
        "ValidationError",
        "ResourceNotFound",
        None,
    ]
    assert "Item" not in db.get_item(TableName=TABLE, Key={"id": {"S": "big"}})


def test_two_statements_on_one_item_are_refused_with_the_request(db):
    statements = [insert_statement(TABLE, item("same")), insert_statement(TABLE, item("same"))]
    with pytest.raises(ClientError, match="duplicates"):
        db.batch_execute_statement(Statements=statements)
    assert "Item" not in db.get_item(TableName=TABLE, Key={"id": {"S": "same"}})


def test_more_than_25_statements_are_refused_with_the_request(aws):
    backend = dynamodb_backends["123456789012"]["us-east-1"]
    statements = [insert_statement(TABLE, item(f"n{n}")) for n in range(26)]
    with pytest.raises(MockValidationException, match="25"):
        backend.batch_execute_statement(statements)  # botocore would not even send it


def test_parameters_must_match_the_names(db):
    statement = insert_statement(TABLE, item("a", v={"S": "b"}))
    statement["Parameters"] = statement["Parameters"][:1]
    (answer,) = db.batch_execute_statement(Statements=[statement])["Responses"]
    assert answer["Error"]["Code"] == "ValidationError"


def test_other_statements_are_moto_s(db):
    db.put_item(TableName=TABLE, Item=item("a", v={"S": "b"}))
    (answer,) = db.batch_execute_statement(
        Statements=[{"Statement": f"SELECT * FROM {TABLE} WHERE id = 'a'"}]
    )["Responses"]
    assert answer["Item"]["v"] == {"S": "b"}


@pytest.mark.parametrize(
    "statement",
    [
        "SELECT * FROM \"t\" WHERE id = 'a'",
        "INSERT INTO \"t\" VALUE {'id': 'literal'}",
        "INSERT INTO \"t\" VALUE {'id': ?, 'it''s': ?}",
        'INSERT INTO t VALUE {"id": ?}',
    ],
)
def test_only_the_outbox_shape_is_taken(statement):
    assert emulator_dynamodb.parse_insert(statement) is None


def test_the_outbox_shape_names_its_table_and_attributes():
    statement = insert_statement("tasks", item("a", status={"S": "READY"}))
    assert emulator_dynamodb.parse_insert(statement["Statement"]) == ("tasks", ["id", "status"])
    assert emulator_dynamodb.inserted_item(statement) == ("tasks", item("a", status={"S": "READY"}))
