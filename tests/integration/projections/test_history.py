from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shopstream.settings import Settings
from streams.contract import (
    Address,
    AdjustStock,
    EventBase,
    OrderLine,
    OrderPlaced,
    OrderStatus,
    OrderStatusChanged,
    ReleaseStock,
    ReserveStock,
    ShipmentDispatched,
    StockAdjusted,
)
from streams.projections.history import (
    DynamoDBClient,
    ensure_history_table,
    order_timeline,
    record_events,
)

T0 = datetime(2025, 3, 1, 12, tzinfo=UTC)


def status_changed(order_id: str, at: datetime, to: OrderStatus = OrderStatus.PAID) -> EventBase:
    return OrderStatusChanged(
        order_id=order_id,
        from_status=OrderStatus.RESERVED,
        to_status=to,
        reason="payment received",
        occurred_at=at,
    )


class CountingQueries:
    """The client, counting its query calls: proof that a read really went page by page."""

    def __init__(self, client: DynamoDBClient) -> None:
        self.client = client
        self.queries = 0

    async def query(self, **request: Any) -> Any:
        self.queries += 1
        return await self.client.query(**request)


async def item_count(client: DynamoDBClient, settings: Settings, order_id: str) -> int:
    result = await client.query(
        TableName=settings.history_table,
        KeyConditionExpression="order_id = :order_id",
        ExpressionAttributeValues={":order_id": {"S": order_id}},
        Select="COUNT",
        ConsistentRead=True,
    )
    return int(result["Count"])


async def test_ensure_history_table_creates_an_on_demand_table_once(
    stack_settings: Settings, dynamodb: DynamoDBClient, unique: str
) -> None:
    settings = stack_settings.model_copy(update={"history_table": f"test-ensure-{unique}"})
    try:
        await ensure_history_table(settings, client=dynamodb)
        await ensure_history_table(settings)  # again, and opening its own client
        table = (await dynamodb.describe_table(TableName=settings.history_table))["Table"]
    finally:
        await dynamodb.delete_table(TableName=settings.history_table)
    assert table["TableStatus"] == "ACTIVE"
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"


async def test_ensure_history_table_refuses_a_table_laid_out_otherwise(
    stack_settings: Settings, dynamodb: DynamoDBClient, unique: str
) -> None:
    settings = stack_settings.model_copy(update={"history_table": f"test-other-{unique}"})
    await dynamodb.create_table(
        TableName=settings.history_table,
        BillingMode="PAY_PER_REQUEST",
        KeySchema=[
            {"AttributeName": "order_id", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "order_id", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
    )
    try:
        with pytest.raises(RuntimeError, match="exists with another layout"):
            await ensure_history_table(settings, client=dynamodb)
    finally:
        await dynamodb.delete_table(TableName=settings.history_table)


async def test_an_event_recorded_twice_is_stored_once(
    history_settings: Settings, dynamodb: DynamoDBClient, unique: str
) -> None:
    event = status_changed(f"ord-{unique}", T0)

    first = await record_events(dynamodb, history_settings, [event])
    second = await record_events(dynamodb, history_settings, [event])

    assert (first, second) == (1, 0)
    assert await item_count(dynamodb, history_settings, f"ord-{unique}") == 1


async def test_an_event_derived_again_after_a_crash_is_stored_once(
    history_settings: Settings, dynamodb: DynamoDBClient, unique: str
) -> None:
    # contract.derive gives the re-derived event the same id but the time of the second run.
    event = status_changed(f"ord-{unique}", T0)
    again = event.model_copy(update={"occurred_at": T0 + timedelta(seconds=30)})

    assert await record_events(dynamodb, history_settings, [event]) == 1
    assert await record_events(dynamodb, history_settings, [again]) == 0

    [entry] = await order_timeline(history_settings, f"ord-{unique}", client=dynamodb)
    assert entry.occurred_at == T0  # the first copy stands


async def test_a_batch_writes_only_what_is_new_and_the_first_copy_stands(
    history_settings: Settings, dynamodb: DynamoDBClient, unique: str
) -> None:
    order_id = f"ord-{unique}"
    stored = status_changed(order_id, T0)
    assert await record_events(dynamodb, history_settings, [stored]) == 1
    # More than one BatchWriteItem's 25, with an event already stored (derived again, later),
    # an event twice in the batch, and a command that belongs to no history.
    new = [status_changed(order_id, T0 + timedelta(seconds=n)) for n in range(1, 31)]
    again = stored.model_copy(update={"occurred_at": T0 + timedelta(minutes=5)})
    command = ReserveStock(order_id=order_id, sku=f"sku-{unique}", quantity=1, expires_at=T0)
    batch = [again, *new[:20], new[3], command, *new[20:]]

    assert await record_events(dynamodb, history_settings, batch) == 30
    assert await record_events(dynamodb, history_settings, batch) == 0

    timeline = await order_timeline(history_settings, order_id, client=dynamodb)
    assert [entry.event_id for entry in timeline] == [e.event_id for e in [stored, *new]]
    assert timeline[0].occurred_at == T0


async def test_the_timeline_is_in_time_order_across_pages(
    history_settings: Settings, dynamodb: DynamoDBClient, unique: str
) -> None:
    order_id = f"ord-{unique}"
    # Sub-second and whole-second times, and two events in the same microsecond.
    times = [T0 + timedelta(seconds=n // 2, microseconds=(n % 2) * 250_000) for n in range(23)]
    times.append(times[-1])
    events = [status_changed(order_id, at) for at in times]
    shuffled = events.copy()
    random.Random(unique).shuffle(shuffled)  # noqa: S311 - a seeded shuffle, not a secret
    for event in shuffled:
        await record_events(dynamodb, history_settings, [event])

    counting = CountingQueries(dynamodb)
    timeline = await order_timeline(history_settings, order_id, client=counting, page_size=5)

    expected = sorted(events, key=lambda e: (e.occurred_at, str(e.event_id)))
    assert [entry.event_id for entry in timeline] == [e.event_id for e in expected]
    assert counting.queries >= 5


async def test_commands_keyed_by_sku_are_not_recorded(
    history_settings: Settings, dynamodb: DynamoDBClient, unique: str
) -> None:
    order_id = f"ord-{unique}"
    commands: list[EventBase] = [
        ReserveStock(order_id=order_id, sku=f"sku-{unique}", quantity=1, expires_at=T0),
        ReleaseStock(order_id=order_id, sku=f"sku-{unique}", quantity=1, reason="expired"),
        AdjustStock(sku=f"sku-{unique}", delta=5),
        StockAdjusted(sku=f"sku-{unique}", on_hand=5),
    ]

    recorded = [await record_events(dynamodb, history_settings, [c]) for c in commands]

    assert recorded == [0] * len(commands)
    assert await order_timeline(history_settings, order_id, client=dynamodb) == []


async def test_a_timeline_entry_carries_a_summary_and_the_event_without_its_card(
    history_settings: Settings, dynamodb: DynamoDBClient, unique: str
) -> None:
    order_id = f"ord-{unique}"
    placed = OrderPlaced(
        order_id=order_id,
        user_id=f"usr-{unique}",
        lines=(OrderLine(sku="MUG-01", quantity=2, unit_price_cents=1250),),
        total_cents=2500,
        currency="EUR",
        shipping_address=Address(
            name="Ada", line1="1 Main St", city="Berlin", postal_code="10115", country="DE"
        ),
        payment_token="tok_secret_card",
        occurred_at=T0,
    )
    dispatched = ShipmentDispatched(
        order_id=order_id,
        carrier="DHL",
        tracking_number="JD0146",
        occurred_at=T0 + timedelta(days=1),
    )
    for event in (dispatched, placed):
        await record_events(dynamodb, history_settings, [event])

    first, second = await order_timeline(history_settings, order_id, client=dynamodb)

    assert (first.type, first.event_id, first.trace_id) == (
        "OrderPlaced",
        placed.event_id,
        placed.trace_id,
    )
    assert first.summary == {"user_id": f"usr-{unique}", "total_cents": 2500, "currency": "EUR"}
    assert "tok_secret_card" not in first.event_json
    assert first.event() == placed.model_copy(update={"payment_token": "redacted"})
    assert second.summary == {"carrier": "DHL", "tracking_number": "JD0146"}
    assert second.event() == dispatched


async def test_the_timeline_of_an_unknown_order_is_empty(
    history_settings: Settings, unique: str
) -> None:
    # No client given: order_timeline opens its own for the call.
    assert await order_timeline(history_settings, f"ord-{unique}") == []
