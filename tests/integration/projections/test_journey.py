"""Both projections fed the way the orders agent will feed them, through a whole order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from shopstream.settings import Settings
from streams.contract import (
    Address,
    AnyEvent,
    OrderLine,
    OrderPlaced,
    OrderStatus,
    PaymentSucceeded,
    ShipmentDelivered,
    ShipmentDispatched,
    StockReserved,
)
from streams.domain.order_saga import OrderState, SagaPolicy, decide
from streams.projections.history import DynamoDBClient, order_timeline, record_events
from streams.projections.order_status import get_order
from tests.integration.projections.helpers import project_one

T0 = datetime(2025, 3, 1, 12, tzinfo=UTC)


async def test_a_delivered_order_reads_back_delivered_with_its_whole_story(
    pool: Any, history_settings: Settings, dynamodb: DynamoDBClient, unique: str
) -> None:
    order_id = f"ord-{unique}"
    line = OrderLine(sku="MUG-01", quantity=2, unit_price_cents=1250)
    incoming: list[AnyEvent] = [
        OrderPlaced(
            order_id=order_id,
            user_id=f"usr-{unique}",
            lines=(line,),
            total_cents=2500,
            currency="EUR",
            shipping_address=Address(
                name="Ada", line1="1 Main St", city="Berlin", postal_code="10115", country="DE"
            ),
            payment_token="tok_visa",
            occurred_at=T0,
        ),
        StockReserved(
            order_id=order_id, sku="MUG-01", quantity=2, expires_at=T0 + timedelta(days=1)
        ),
        PaymentSucceeded(
            order_id=order_id, payment_id="pay-1", amount_cents=2500, currency="EUR", attempt=1
        ),
        ShipmentDispatched(order_id=order_id, carrier="DHL", tracking_number="JD0146"),
        ShipmentDelivered(order_id=order_id),
    ]
    state: OrderState | None = None
    for n, event in enumerate(incoming):
        event = event.model_copy(update={"occurred_at": T0 + timedelta(seconds=10 * n)})
        # The agent decides a moment after the event occurred; what it emits is stamped then.
        now = event.occurred_at + timedelta(milliseconds=5)
        decision = decide(state, event, now, SagaPolicy())
        assert decision.state is not None and decision.refused is None
        state = decision.state
        # What the agent does per event: the state to PostgreSQL, the event and what it
        # caused to DynamoDB.
        assert await project_one(pool, state)
        for recorded in (event, *decision.events):
            await record_events(dynamodb, history_settings, [recorded])

    order = await get_order(pool, order_id)
    timeline = await order_timeline(history_settings, order_id, client=dynamodb)

    assert order is not None
    assert (order.status, order.status_reason, order.tracking_number) == (
        OrderStatus.DELIVERED,
        "delivered",
        "JD0146",
    )
    statuses = [e.summary["to_status"] for e in timeline if e.type == "OrderStatusChanged"]
    assert statuses == ["pending", "reserved", "paid", "shipped", "delivered"]
    assert [e.type for e in timeline if e.type != "OrderStatusChanged"] == [
        "OrderPlaced",
        "StockReserved",
        "PaymentRequested",
        "PaymentSucceeded",
        "ShipmentRequested",
        "ShipmentDispatched",
        "ShipmentDelivered",
    ]
