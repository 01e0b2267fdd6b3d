from __future__ import annotations

from datetime import UTC, datetime

from streams.contract import (
    AnyEvent,
    OrderStatus,
    OrderStatusChanged,
    PaymentRequested,
    ReleaseStock,
)
from streams.projections.order_status import status_reason
from streams.projections.schema import MIGRATIONS

T0 = datetime(2025, 3, 1, 12, tzinfo=UTC)


def moved(to: OrderStatus, reason: str) -> OrderStatusChanged:
    return OrderStatusChanged(
        order_id="ord-1", from_status=OrderStatus.PENDING, to_status=to, reason=reason
    )


def test_the_status_reason_is_that_of_the_last_status_change() -> None:
    events: list[AnyEvent] = [
        moved(OrderStatus.CANCELLED, "cancelled: changed my mind"),
        ReleaseStock(order_id="ord-1", sku="MUG-01", quantity=1, reason="order cancelled"),
        moved(OrderStatus.EXPIRED, "not paid in time"),
    ]
    assert status_reason(events) == "not paid in time"


def test_a_decision_without_a_status_change_has_no_status_reason() -> None:
    events: list[AnyEvent] = [
        PaymentRequested(
            order_id="ord-1", amount_cents=1, currency="EUR", payment_token="tok", attempt=1
        )
    ]
    assert status_reason(events) is None
    assert status_reason([]) is None


def test_migrations_are_numbered_from_one_without_gaps_or_repeats() -> None:
    assert [m.version for m in MIGRATIONS] == list(range(1, len(MIGRATIONS) + 1))
