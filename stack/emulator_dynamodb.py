"""What moto lacks of DynamoDB for the task path: a batch of PartiQL INSERTs, run as AWS runs it.

The outbox writes a batch's items with BatchExecuteStatement, one parameterised
`INSERT INTO "table" VALUE {'name': ?, ...}` per item (sqs_tasks.results.insert_statement).
moto 5.2 cannot run it: its PartiQL parser reads no `?` inside a tuple, and before any
statement it copies every item of every table (a long test would grow quadratic). `install`
answers that one shape as DynamoDB does (developer guide, ql-reference.insert and
ql-reference.multiplestatements.batching): each statement on its own, an INSERT whose key
exists fails with `DuplicateItem` and writes nothing, the others go through; more than 25
statements, or two on one item, and the whole request is refused. It writes
through moto's own conditional put, so items, sizes and types are checked as a PutItem's
are. Any other statement is left to moto.

Used wherever moto stands in for AWS: the tests (tests/conftest.py), the local system
(stack.local) and the benchmarks (bench.inprocess).
"""

import json
import re
from typing import Any

from moto.dynamodb.exceptions import (
    ConditionalCheckFailed,
    DynamodbException,
    MockValidationException,
)
from moto.dynamodb.models import DynamoDBBackend

_INSERT = re.compile(r'\s*INSERT\s+INTO\s+"(?P<table>[^"]+)"\s+VALUE\s+\{(?P<tuple>.*)\}\s*', re.S)
_NAME = re.compile(r"\s*'(?P<name>[^',]*)'\s*:\s*\?\s*")
_moto_batch_execute_statement = DynamoDBBackend.batch_execute_statement
MAX_STATEMENTS = 25


def parse_insert(statement: str) -> tuple[str, list[str]] | None:
    """The table and the attribute names, in order, of an INSERT of the outbox's shape;
    None for any other statement."""
    match = _INSERT.fullmatch(statement)
    if match is None:
        return None
    names = [_NAME.fullmatch(part) for part in match["tuple"].split(",")]
    if not all(names):
        return None
    return match["table"], [name["name"] for name in names if name]


def inserted_item(statement: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """The table and the item a statement of the outbox's shape inserts."""
    parsed = parse_insert(statement["Statement"])
    if parsed is None:
        return None
    table, names = parsed
    return table, dict(zip(names, statement.get("Parameters", []), strict=False))


def install() -> None:
    """Answer the outbox's INSERT batches in every moto DynamoDB backend (idempotent)."""
    DynamoDBBackend.batch_execute_statement = _batch_execute_statement  # type: ignore[method-assign]


def _batch_execute_statement(
    backend: DynamoDBBackend, statements: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    inserts = [inserted_item(statement) for statement in statements]
    if not all(inserts):
        return _moto_batch_execute_statement(backend, statements)
    # What DynamoDB refuses for the whole request (botocore checks the count too).
    if len(statements) > MAX_STATEMENTS:
        raise MockValidationException(
            f"Member must have length less than or equal to {MAX_STATEMENTS}"
        )
    keys = [
        (table, json.dumps(item.get(_key_of(backend, table)), sort_keys=True))
        for table, item in filter(None, inserts)
    ]
    if len(set(keys)) != len(keys):
        raise MockValidationException("Provided list of item keys contains duplicates")
    return [_insert(backend, statement) for statement in statements]


def _key_of(backend: DynamoDBBackend, table: str) -> str:
    return backend.tables[table].hash_key_attr if table in backend.tables else ""


def _insert(backend: DynamoDBBackend, statement: dict[str, Any]) -> dict[str, Any]:
    table_name, names = parse_insert(statement["Statement"]) or ("", [])
    parameters = statement.get("Parameters", [])
    if table_name not in backend.tables:
        return _error("ResourceNotFound", "Requested resource not found")
    if len(parameters) != len(names) or len(set(names)) != len(names):
        return _error("ValidationError", "Number of parameters in request and statement differ")
    table = backend.tables[table_name]
    try:
        table.put_item(
            dict(zip(names, parameters, strict=True)),
            condition_expression="attribute_not_exists(#key)",
            expression_attribute_names={"#key": table.hash_key_attr},
            expression_attribute_values={},
        )
    except ConditionalCheckFailed:
        duplicate = _error("DuplicateItem", "Duplicate primary key exists in table")
        return {"TableName": table_name, **duplicate}
    except DynamodbException as error:  # what a PutItem of this item would be refused for
        return _error("ValidationError", error.message)
    return {"TableName": table_name}


def _error(code: str, message: str) -> dict[str, Any]:
    return {"Error": {"Code": code, "Message": message}}
