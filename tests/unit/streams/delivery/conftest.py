from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

import pytest

from streams.contract import OrderLine, OrderStatus, OrderStatusChanged
from streams.domain.notifications import OrderSummary, Preferences, Recipient, notifications

LINES = (
    OrderLine(sku="MUG-01", quantity=2, unit_price_cents=1250),
    OrderLine(sku="TEE-M", quantity=1, unit_price_cents=2000),
)


@pytest.fixture
def confirmation() -> OrderStatusChanged:
    return OrderStatusChanged(
        order_id="ord-1",
        from_status=OrderStatus.RESERVED,
        to_status=OrderStatus.PAID,
        reason="payment received",
        event_id=UUID("00000000-0000-4000-8000-000000000001"),
        occurred_at=datetime(2025, 3, 1, 9, 30, tzinfo=UTC),
    )


@pytest.fixture
def sent(confirmation: OrderStatusChanged) -> dict[str, object]:
    order = OrderSummary("ord-1", "usr-1", LINES, 4500, "EUR")
    ada = Recipient("usr-1", "Ada", "ada@example.com", Preferences(sms=True, phone="+14155550100"))
    return {
        n.channel.value: n
        for n in notifications(confirmation, order, ada, "http://shop.test/orders/ord-1")
    }
