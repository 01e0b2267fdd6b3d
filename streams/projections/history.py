"""The order history in DynamoDB: one item per order event, read back as the order's timeline.

Usage by the history agent, which holds one client for its lifetime and writes in batches::

    async with history_client(settings) as client:
        await ensure_history_table(settings, client=client)
        async for records in stream.take_events(100, within=0.25):
            await record_events(client, settings, [decode(r.value) for r in records])

``record_events`` writes in two calls per 25 events (a consistent BatchGetItem for the ids
already there, then BatchWriteItem of the rest): a put per event would cost a botocore call
each, the worker's largest cost by far.

Table layout. Hash key ``order_id``, range key ``event_id``: the event id is what makes a
redelivered event a duplicate, so it is the item's identity, and ``record_events`` finds a
second copy by that key. A range key of ``occurred_at#event_id`` could not: an event the saga
derives again after a crash keeps its id (``contract.derive``) but gets a new ``occurred_at``,
which would make a second row. Time order comes from the local secondary index ``by_time``,
whose range key ``sk`` is ``occurred_at#event_id`` (fixed-width UTC, so text order is time
order; the id breaks ties).

Only order-keyed facts are recorded. The commands addressed to inventory (keyed by sku) are the
saga's internal traffic, and their answers (StockReserved, ...) are in the history anyway;
timer hints and relayed carrier replies (``NOT_RECORDED``) are not facts about the order of
their own, and whatever they lead to is recorded (the status change, the ShipmentDispatched).
Payment tokens are replaced before the event is stored: the history is shown to people.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime
from typing import Any, Final, TypeAlias, cast
from uuid import UUID

from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as EndpointUnreachable
from pydantic import AwareDatetime

from shopstream.aws import aws_client
from shopstream.settings import Settings
from streams.contract import AnyEvent, EventBase, Record, decode

__all__ = [
    "NOT_RECORDED",
    "REDACTED",
    "SUMMARY_FIELDS",
    "TIME_INDEX",
    "DynamoDBClient",
    "HistoryEntry",
    "ensure_history_table",
    "history_client",
    "history_item",
    "order_timeline",
    "record_events",
    "refused_by_dynamodb",
    "sort_key",
    "timeline_key",
    "unavailable",
]

# An aiobotocore DynamoDB client; aiobotocore ships no type information.
DynamoDBClient: TypeAlias = Any
SummaryValue: TypeAlias = str | int | bool

TIME_INDEX: Final = "by_time"
REDACTED: Final = "redacted"
# Order-keyed, but hints rather than something that happened to the order (a timer may send
# one more than once, each with its own id, which would clutter the timeline), and the
# carrier's replies, which the shipping agent reports as the shipping events recorded anyway.
NOT_RECORDED: Final = frozenset(
    {
        "ReservationExpiryDue",
        "ShipmentReplyOverdue",
        "CarrierReplied",
        "PaymentReconciliationDue",
    }
)

# What the timeline shows of each event, beside its type and time. Anything not named here
# stays in the full event only. A type missing here is still recorded, with an empty summary.
# A dotted name reaches into a nested record ("shipping_address.city").
SUMMARY_FIELDS: Final[Mapping[str, tuple[str, ...]]] = {
    "OrderPlaced": ("user_id", "total_cents", "currency"),
    "OrderCancelled": ("reason",),
    "PaymentRetryRequested": (),
    "RefundRetryRequested": ("reason",),
    "ShippingAddressChanged": (
        "shipping_address.city",
        "shipping_address.postal_code",
        "shipping_address.country",
    ),
    "OrderStatusChanged": ("from_status", "to_status", "reason"),
    "StockReserved": ("sku", "quantity"),
    "StockRejected": ("sku", "requested", "available"),
    "StockReleased": ("sku", "quantity"),
    "PaymentRequested": ("amount_cents", "currency", "attempt"),
    "PaymentSucceeded": ("payment_id", "amount_cents", "currency", "attempt"),
    "PaymentFailed": ("code", "retryable", "attempt"),
    "RefundRequested": ("payment_id", "amount_cents", "currency", "reason", "attempt"),
    "PaymentRefunded": ("refund_id", "payment_id", "amount_cents", "currency"),
    # Not the reason: the provider's words are for support, not for the customer's timeline.
    "RefundFailed": ("payment_id", "amount_cents", "currency", "attempt", "code", "retryable"),
    "ShipmentRequested": ("attempt",),
    "ShipmentDispatched": ("carrier", "tracking_number"),
    "ShippingProblem": ("reason", "attempt"),
    "ShipmentDelivered": (),
}


class HistoryEntry(Record):
    """One event of an order's timeline."""

    order_id: str
    event_id: UUID
    type: str
    occurred_at: AwareDatetime
    trace_id: str
    summary: dict[str, SummaryValue]
    event_json: str  # the event as recorded (payment token redacted)

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> HistoryEntry:
        """The entry of a DynamoDB item written by ``history_item``."""
        return cls(
            order_id=item["order_id"]["S"],
            event_id=UUID(item["event_id"]["S"]),
            type=item["type"]["S"],
            occurred_at=datetime.fromisoformat(item["occurred_at"]["S"]),
            trace_id=item["trace_id"]["S"],
            summary={name: _value(value) for name, value in item["summary"]["M"].items()},
            event_json=item["event"]["S"],
        )

    @property
    def timeline_key(self) -> str:
        return timeline_key(self.occurred_at, self.type, self.event_id)

    def event(self) -> AnyEvent:
        """The recorded event, decoded (and lifted to the current schema) by the contract."""
        return decode(self.event_json.encode())


def history_client(settings: Settings) -> AbstractAsyncContextManager[DynamoDBClient]:
    """An async context manager yielding a DynamoDB client; open it once and keep it."""
    return cast(AbstractAsyncContextManager[DynamoDBClient], aws_client(settings, "dynamodb"))


async def ensure_history_table(settings: Settings, *, client: DynamoDBClient | None = None) -> None:
    """Create the history table if it is missing and wait until it is active.

    Safe when several workers start at once. A table of that name with another key layout is
    refused with a ``RuntimeError`` rather than written to wrongly.
    """
    if client is None:
        async with history_client(settings) as own:
            await _ensure_table(own, settings.history_table)
    else:
        await _ensure_table(client, settings.history_table)


async def record_events(
    client: DynamoDBClient, settings: Settings, events: Iterable[EventBase]
) -> int:
    """Put every event not yet in its order's history; return how many new items were written.

    The first copy of an event stands (a redelivery or an event derived again is left out,
    within the batch as across batches), and events outside the history (sku-keyed commands,
    ``NOT_RECORDED`` hints) are skipped. BatchWriteItem has no conditions, so the ids already
    recorded are read first; that check and the write are not one step, which is safe because
    the history agent's partition is the only writer of an order's items.
    """
    items: dict[tuple[str, str], dict[str, Any]] = {}
    for event in events:
        item = history_item(event)
        if item is not None:
            items.setdefault((item["order_id"]["S"], item["event_id"]["S"]), item)
    keys = list(items)
    written = 0
    for start in range(0, len(keys), _BATCH_ITEMS):
        chunk = keys[start : start + _BATCH_ITEMS]
        recorded = await _recorded(client, settings.history_table, chunk)
        new = [items[key] for key in chunk if key not in recorded]
        await _put_all(client, settings.history_table, new)
        written += len(new)
    return written


async def order_timeline(
    settings: Settings,
    order_id: str,
    *,
    client: DynamoDBClient | None = None,
    page_size: int | None = None,
) -> list[HistoryEntry]:
    """Every recorded event of the order in timeline order (``timeline_key``: when it
    happened, oldest first); empty for an unknown order.

    ``client``: a long-lived client to reuse (one is opened for the call otherwise).
    ``page_size``: items per DynamoDB request (its own 1 MB limit applies regardless).
    """
    if client is None:
        async with history_client(settings) as own:
            return await _timeline(own, settings.history_table, order_id, page_size)
    return await _timeline(client, settings.history_table, order_id, page_size)


def sort_key(event: EventBase) -> str:
    """``occurred_at#event_id``, with a fixed-width UTC time so that text order is time order."""
    return f"{_utc_text(event.occurred_at)}#{event.event_id}"


def timeline_key(occurred_at: datetime, event_type: str, event_id: UUID | str) -> str:
    """Where an event stands in its order's timeline, as text that sorts.

    When it happened (fixed-width UTC, to the microsecond); among events of one instant (the
    outputs of one decision share its time) the status change first, since the saga decides
    it before what it sends on because of it ("reserved", then "payment requested"); then the
    id, so that every view of the timeline (the history, the live page) holds one order.
    """
    rank = 0 if event_type == "OrderStatusChanged" else 1
    return f"{_utc_text(occurred_at)}#{rank}#{event_id}"


def _utc_text(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def history_item(event: EventBase) -> dict[str, Any] | None:
    """The DynamoDB item recording ``event``, or ``None`` for events outside the history."""
    if event.key_field != "order_id" or event.type in NOT_RECORDED:
        return None
    stored = event
    if "payment_token" in type(event).model_fields:
        stored = event.model_copy(update={"payment_token": REDACTED})
    summary = {
        name: _attribute(value)
        for name in SUMMARY_FIELDS.get(event.type, ())
        if (value := _field(event, name)) is not None
    }
    return {
        "order_id": {"S": event.key},
        "event_id": {"S": str(event.event_id)},
        "sk": {"S": sort_key(event)},
        "type": {"S": event.type},
        "occurred_at": {"S": event.occurred_at.astimezone(UTC).isoformat()},
        "trace_id": {"S": event.trace_id},
        "summary": {"M": summary},
        "event": {"S": stored.model_dump_json()},
    }


def _field(event: EventBase, dotted: str) -> object:
    value: object = event
    for name in dotted.split("."):
        value = getattr(value, name, None)
    return value


# BatchWriteItem takes at most 25 puts per call (BatchGetItem 100 keys).
_BATCH_ITEMS: Final = 25


def _key(order_id: str, event_id: str) -> dict[str, Any]:
    return {"order_id": {"S": order_id}, "event_id": {"S": event_id}}


async def _recorded(
    client: DynamoDBClient, table: str, keys: Sequence[tuple[str, str]]
) -> set[tuple[str, str]]:
    """Which of ``keys`` (order_id, event_id) have an item already."""
    found: set[tuple[str, str]] = set()
    request: dict[str, Any] = {
        table: {
            "Keys": [_key(*key) for key in keys],
            "ProjectionExpression": "order_id, event_id",
            "ConsistentRead": True,
        }
    }
    for attempt in itertools.count():
        answer = await client.batch_get_item(RequestItems=request)
        found.update(
            (item["order_id"]["S"], item["event_id"]["S"])
            for item in answer["Responses"].get(table, [])
        )
        request = answer.get("UnprocessedKeys") or {}
        if not request:
            return found
        await asyncio.sleep(_unprocessed_backoff(attempt))
    raise AssertionError("unreachable: the loop returns")


async def _put_all(client: DynamoDBClient, table: str, items: Sequence[dict[str, Any]]) -> None:
    """Put ``items`` (at most 25), again and again for those DynamoDB leaves unprocessed."""
    if not items:
        return
    request: dict[str, Any] = {table: [{"PutRequest": {"Item": item}} for item in items]}
    for attempt in itertools.count():
        answer = await client.batch_write_item(RequestItems=request)
        request = answer.get("UnprocessedItems") or {}
        if not request:
            return
        await asyncio.sleep(_unprocessed_backoff(attempt))
    raise AssertionError("unreachable: the loop returns")


def _unprocessed_backoff(attempt: int) -> float:
    # What DynamoDB leaves unprocessed is throttled: AWS asks for exponential backoff.
    return float(min(0.05 * 2**attempt, 2.0))


def _attribute(value: object) -> dict[str, Any]:
    # bool first: it is an int to Python but a BOOL to DynamoDB. Enums are str subclasses.
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, int):
        return {"N": str(value)}
    return {"S": str(value)}


def _value(attribute: Mapping[str, Any]) -> SummaryValue:
    if "BOOL" in attribute:
        return bool(attribute["BOOL"])
    if "N" in attribute:
        return int(attribute["N"])
    return str(attribute["S"])


async def _timeline(
    client: DynamoDBClient, table: str, order_id: str, page_size: int | None
) -> list[HistoryEntry]:
    request: dict[str, Any] = {
        "TableName": table,
        "IndexName": TIME_INDEX,
        "KeyConditionExpression": "order_id = :order_id",
        "ExpressionAttributeValues": {":order_id": {"S": order_id}},
        # A customer who just acted expects to see it; a local index can read consistently.
        "ConsistentRead": True,
    }
    if page_size is not None:
        request["Limit"] = page_size
    entries: list[HistoryEntry] = []
    while True:
        page = await client.query(**request)
        entries.extend(HistoryEntry.from_item(item) for item in page["Items"])
        if "LastEvaluatedKey" not in page:
            # The index gave time order; this settles events of one instant as the live
            # page does.
            return sorted(entries, key=lambda entry: entry.timeline_key)
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


_KEY_SCHEMA: Final = [
    {"AttributeName": "order_id", "KeyType": "HASH"},
    {"AttributeName": "event_id", "KeyType": "RANGE"},
]
_TIME_KEY_SCHEMA: Final = [
    {"AttributeName": "order_id", "KeyType": "HASH"},
    {"AttributeName": "sk", "KeyType": "RANGE"},
]


async def _ensure_table(client: DynamoDBClient, table: str) -> None:
    try:
        await client.describe_table(TableName=table)
    except ClientError as error:
        if _code(error) != "ResourceNotFoundException":
            raise
        await _create_table(client, table)
    # Returns at once for an active table; polls every second while it is being created.
    waiter = client.get_waiter("table_exists")
    await waiter.wait(TableName=table, WaiterConfig={"Delay": 1, "MaxAttempts": 300})
    description = (await client.describe_table(TableName=table))["Table"]
    _check_layout(table, description)


async def _create_table(client: DynamoDBClient, table: str) -> None:
    try:
        await client.create_table(
            TableName=table,
            BillingMode="PAY_PER_REQUEST",
            KeySchema=_KEY_SCHEMA,
            AttributeDefinitions=[
                {"AttributeName": name, "AttributeType": "S"}
                for name in ("order_id", "event_id", "sk")
            ],
            LocalSecondaryIndexes=[
                {
                    "IndexName": TIME_INDEX,
                    "KeySchema": _TIME_KEY_SCHEMA,
                    # The timeline reads whole items; projecting all avoids a fetch per item.
                    "Projection": {"ProjectionType": "ALL"},
                }
            ],
        )
    except ClientError as error:
        # Another worker created it between our describe and create: theirs will do.
        if _code(error) != "ResourceInUseException":
            raise


def _check_layout(table: str, description: Mapping[str, Any]) -> None:
    indexes = {
        index["IndexName"]: index["KeySchema"]
        for index in description.get("LocalSecondaryIndexes", [])
    }
    if description["KeySchema"] != _KEY_SCHEMA or indexes.get(TIME_INDEX) != _TIME_KEY_SCHEMA:
        raise RuntimeError(
            f"DynamoDB table {table} exists with another layout (key {description['KeySchema']},"
            f" local indexes {indexes}); expected key {_KEY_SCHEMA} and index {TIME_INDEX}"
            f" {_TIME_KEY_SCHEMA}. Point history_table elsewhere or migrate that table."
        )


# DynamoDB's answers that say "not now" rather than "not this": throttling and its own trouble.
_UNAVAILABLE_CODES: Final = frozenset(
    {
        "InternalServerError",
        "LimitExceededException",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "ServiceUnavailable",
        "ThrottlingException",
    }
)


def refused_by_dynamodb(error: BaseException) -> bool:
    """Whether DynamoDB refused a write for the items it carries (an item over 400 KB, a
    number of more than 38 digits, ...): writing them again fails again."""
    return isinstance(error, ClientError) and _code(error) == "ValidationException"


def unavailable(error: BaseException) -> bool:
    """Whether a call failed for DynamoDB or the way there (throttled, unreachable, timed
    out), not for what it asked: worth trying again later, once botocore's retries are spent."""
    if isinstance(error, ClientError):
        return _code(error) in _UNAVAILABLE_CODES
    return isinstance(error, EndpointUnreachable | HTTPClientError | OSError)


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))
