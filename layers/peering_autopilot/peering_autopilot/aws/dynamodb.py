"""The autopilot's record table (template.yaml RecordTable) and its backlog queue.

Items go in and out as plain Python values (str, int, bool, lists and maps of them); numbers come
back as int. Any failure of the table (missing, throttled past the retries, refused, unreachable)
is a RecordUnavailableError: the steps that would remove something then do nothing, and those that
add still add and leave what they could not record on the backlog queue, for the sweep to write
once the table answers again.
"""

from __future__ import annotations

import contextlib
import functools
import json
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from peering_autopilot.aws.calls import error_code, error_message
from peering_autopilot.errors import RecordConflictError, RecordUnavailableError
from peering_autopilot.permissions import needs

_BATCH = 25  # BatchWriteItem's own limit
_CONDITION_FAILED = "ConditionalCheckFailedException"


@functools.cache
def _types() -> tuple[Any, Any]:
    """boto3's own (de)serializer, imported on first use: it brings `decimal`, which the functions
    would otherwise load at every cold start."""
    from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

    return TypeSerializer(), TypeDeserializer()


def _to_wire(item: Mapping[str, Any]) -> dict[str, Any]:
    serializer = _types()[0]
    return {k: serializer.serialize(v) for k, v in item.items() if v is not None}


def _plain(value: Any) -> Any:
    if type(value).__name__ == "Decimal":  # DynamoDB's numbers (decimal is not imported up front)
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, set):
        return {_plain(v) for v in value}
    return value


def _from_wire(item: Mapping[str, Any]) -> dict[str, Any]:
    deserializer = _types()[1]
    return {k: _plain(deserializer.deserialize(v)) for k, v in item.items()}


@contextlib.contextmanager
def _unavailable(table: str, operation: str) -> Iterator[None]:
    try:
        yield
    except ClientError as e:
        if error_code(e) == _CONDITION_FAILED:
            raise RecordConflictError(table=table, operation=operation) from e
        raise RecordUnavailableError(
            table=table, operation=operation, reason=f"{error_code(e)}: {error_message(e)}"
        ) from e
    except BotoCoreError as e:
        raise RecordUnavailableError(table=table, operation=operation, reason=f"{type(e).__name__}: {e}") from e


class RecordStore:
    """One DynamoDB table, keys `pk` (partition) and `sk` (sort)."""

    def __init__(self, client: Any, table: str) -> None:
        self.client = client
        self.table = table

    @needs("dynamodb:Query")
    def items(self, pk: str) -> list[dict[str, Any]]:
        """Every item of one partition, in sort-key order (consistent reads: just written counts)."""
        out: list[dict[str, Any]] = []
        with _unavailable(self.table, "Query"):
            pages = self.client.get_paginator("query").paginate(
                TableName=self.table,
                KeyConditionExpression="pk = :pk",
                ExpressionAttributeValues={":pk": {"S": pk}},
                ConsistentRead=True,
            )
            for page in pages:
                out.extend(_from_wire(item) for item in page.get("Items", []))
        return out

    @needs("dynamodb:Query")
    def last(self, pk: str) -> dict[str, Any] | None:
        """The partition's item with the greatest sort key."""
        with _unavailable(self.table, "Query"):
            found = self.client.query(
                TableName=self.table,
                KeyConditionExpression="pk = :pk",
                ExpressionAttributeValues={":pk": {"S": pk}},
                ScanIndexForward=False,
                Limit=1,
                ConsistentRead=True,
            ).get("Items", [])
        return _from_wire(found[0]) if found else None

    @needs("dynamodb:PutItem")
    def put_new(self, item: Mapping[str, Any]) -> None:
        """Put an item whose key must not exist yet (RecordConflictError if it does)."""
        with _unavailable(self.table, "PutItem"):
            self.client.put_item(
                TableName=self.table, Item=_to_wire(item), ConditionExpression="attribute_not_exists(pk)"
            )

    @needs("dynamodb:PutItem")
    def put_if(self, item: Mapping[str, Any], condition: str, values: Mapping[str, Any]) -> dict[str, Any] | None:
        """Put an item where `condition` holds for the one it replaces (RecordConflictError if not);
        the item it replaced, if any (read in the same call)."""
        with _unavailable(self.table, "PutItem"):
            old = self.client.put_item(
                TableName=self.table,
                Item=_to_wire(item),
                ConditionExpression=condition,
                ExpressionAttributeValues=_to_wire(values),
                ReturnValues="ALL_OLD",
            ).get("Attributes")
        return _from_wire(old) if old else None

    @needs("dynamodb:BatchWriteItem")
    def write(self, puts: Sequence[Mapping[str, Any]] = (), deletes: Sequence[tuple[str, str]] = ()) -> None:
        """Put and delete ownership items, 25 a call; what DynamoDB leaves unprocessed is sent again."""
        requests: list[dict[str, Any]] = [{"PutRequest": {"Item": _to_wire(item)}} for item in puts]
        requests += [{"DeleteRequest": {"Key": {"pk": {"S": pk}, "sk": {"S": sk}}}} for pk, sk in deletes]
        for start in range(0, len(requests), _BATCH):
            pending: dict[str, Any] = {self.table: requests[start : start + _BATCH]}
            for _ in range(5):
                with _unavailable(self.table, "BatchWriteItem"):
                    pending = self.client.batch_write_item(RequestItems=pending).get("UnprocessedItems", {})
                if not pending:
                    break
            if pending:
                raise RecordUnavailableError(
                    table=self.table, operation="BatchWriteItem", reason="items left unprocessed after 5 tries"
                )


class BacklogQueue:
    """What a step could not write to the record while the table was unavailable, kept for the
    sweep to write (template.yaml RecordBacklogQueue)."""

    def __init__(self, client: Any, url: str) -> None:
        self.client = client
        self.url = url

    @needs("sqs:SendMessage")
    def send(self, message: Mapping[str, Any]) -> None:
        with _unavailable(self.url, "SendMessage"):
            self.client.send_message(QueueUrl=self.url, MessageBody=json.dumps(message, sort_keys=True))

    @needs("sqs:ReceiveMessage")
    def receive(self, limit: int = 10) -> list[tuple[str, dict[str, Any]]]:
        """Up to `limit` messages: (receipt handle, body)."""
        with _unavailable(self.url, "ReceiveMessage"):
            messages = self.client.receive_message(
                QueueUrl=self.url, MaxNumberOfMessages=min(limit, 10), WaitTimeSeconds=0
            ).get("Messages", [])
        out = []
        for message in messages:
            try:
                out.append((message["ReceiptHandle"], json.loads(message["Body"])))
            except (KeyError, ValueError):
                continue  # not ours to read: left to expire
        return out

    @needs("sqs:DeleteMessage")
    def done(self, receipt: str) -> None:
        with _unavailable(self.url, "DeleteMessage"):
            self.client.delete_message(QueueUrl=self.url, ReceiptHandle=receipt)
