"""An order's refund status over the live gateway: what the status projection holds of the
saga's refunds (asked for, made, failed and why), as the customer reads it.

The order's states are the real saga's decisions, written as the status projection writes
them, into the stack's PostgreSQL: the gateway reads them there like any order's."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx
import pytest

from shopstream.settings import Settings
from streams.contract import (
    Address,
    AnyEvent,
    OrderCancelled,
    OrderLine,
    OrderPlaced,
    PaymentRefunded,
    PaymentSucceeded,
    RefundFailed,
    RefundRetryRequested,
    StockReserved,
)
from streams.domain.order_saga import OrderState, SagaPolicy, decide
from streams.projections.order_status import project_orders
from streams.projections.schema import migrate
from tests.integration.api.conftest import Person

ADDRESS = Address(name="Ada", line1="1 Main St", city="Berlin", postal_code="10115", country="DE")


@pytest.fixture
async def pool(stack_settings: Settings) -> AsyncIterator[Any]:
    opened = await asyncpg.create_pool(
        stack_settings.database_url.get_secret_value(), min_size=1, max_size=2
    )
    try:
        await migrate(opened)
        yield opened
    finally:
        await opened.close()


class Journey:
    """One order through the real saga, each state projected as the projection does."""

    def __init__(self, pool: Any, user_id: str) -> None:
        self.pool = pool
        self.order_id = f"ord_{uuid.uuid4().hex}"
        self.state: OrderState | None = None
        self.placed = OrderPlaced(
            order_id=self.order_id,
            user_id=user_id,
            lines=(OrderLine(sku="MUG-01", quantity=1, unit_price_cents=4500),),
            total_cents=4500,
            currency="EUR",
            shipping_address=ADDRESS,
            payment_token="tok_refundFail",
        )

    async def hear(self, *events: AnyEvent) -> None:
        for event in events:
            decision = decide(self.state, event, datetime.now(UTC), SagaPolicy())
            assert decision.refused is None, decision.refused
            assert decision.state is not None
            self.state = decision.state
            await project_orders(self.pool, [self.state])


async def test_an_orders_failed_refund_shows_why_until_a_retry_makes_it(
    client: httpx.AsyncClient, customer: Person, pool: Any
) -> None:
    journey = Journey(pool, customer.user_id)
    order_id = journey.order_id
    reserved = StockReserved(
        order_id=order_id, sku="MUG-01", quantity=1, expires_at=datetime.now(UTC)
    )
    paid = PaymentSucceeded(
        order_id=order_id, payment_id="pay_1", amount_cents=4500, currency="EUR", attempt=1
    )
    await journey.hear(journey.placed, reserved, paid)
    before = (await client.get(f"/orders/{order_id}", headers=customer.headers)).json()
    assert (before["refund_status"], before["refund_failure_reason"]) == (None, None)

    await journey.hear(OrderCancelled(order_id=order_id, reason="changed my mind"))
    asked = (await client.get(f"/orders/{order_id}", headers=customer.headers)).json()
    assert (asked["status"], asked["refund_status"]) == ("cancelled", "requested")

    failed = RefundFailed(
        order_id=order_id,
        payment_id="pay_1",
        amount_cents=4500,
        currency="EUR",
        attempt=1,
        code="refused",
        reason="processing_error: the card is expired or cancelled",
        retryable=False,
    )
    await journey.hear(failed)
    shown = await client.get(f"/orders/{order_id}", headers=customer.headers)
    assert shown.status_code == 200
    body = shown.json()
    assert (body["refund_status"], body["refunded_cents"]) == ("failed", 0)
    assert body["refund_failure_reason"] == "processing_error: the card is expired or cancelled"

    refunded = PaymentRefunded(
        order_id=order_id, refund_id="re_2", payment_id="pay_1", amount_cents=4500, currency="EUR"
    )
    await journey.hear(RefundRetryRequested(order_id=order_id, reason="retried"), refunded)
    done = (await client.get(f"/orders/{order_id}", headers=customer.headers)).json()
    assert (done["refund_status"], done["refund_failure_reason"], done["refunded_cents"]) == (
        "refunded",
        None,
        4500,
    )
