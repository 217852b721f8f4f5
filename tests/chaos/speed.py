"""A faster body for moto's DynamoDB item responses, so the chaos world fits its time.

moto 5.2 serializes every response by walking botocore's output shape member by member,
looking each one up under several aliases: about 15 ms for one task item, more than the
rest of the call. For GetItem, PutItem and UpdateItem the result moto builds is already the
response in DynamoDB's JSON shape (items as attribute-value maps, no timestamps), so
`json.dumps` of it is the same body: `test_speed.py` checks that against moto's own
serializer, item shapes, conditional answers and all. Other operations are left alone.
"""

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from unittest import mock

from moto.dynamodb.responses import DynamoResult

PLAIN_JSON = frozenset({"GetItem", "PutItem", "UpdateItem"})
HEADERS = {"Content-Type": "application/x-amz-json-1.0"}

_moto_execute = DynamoResult.execute_result


def _execute(self: DynamoResult, context: Any) -> Any:
    if context.operation_model.name not in PLAIN_JSON:
        return _moto_execute(self, context)
    return 200, dict(HEADERS), json.dumps(self.result)


@contextmanager
def fast_item_responses() -> Iterator[None]:
    with mock.patch.object(DynamoResult, "execute_result", _execute):
        yield
