"""One valid sample of every event type, for the tests that must cover them all."""

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import pytest

from streams.contract import (
    Address,
    AdjustStock,
    AnyEvent,
    CarrierReplied,
    CommitStock,
    OrderCancelled,
    OrderLine,
    OrderPlaced,
    OrderStatus,
    OrderStatusChanged,
    PaymentFailed,
    PaymentReconciliationDue,
    PaymentRefunded,
    PaymentRequested,
    PaymentRetryRequested,
    PaymentSucceeded,
    ProductPriceChanged,
    RefundFailed,
    RefundRequested,
    RefundRetryRequested,
    ReleaseStock,
    ReservationExpiryDue,
    ReserveStock,
    ShipmentDelivered,
    ShipmentDispatched,
    ShipmentReplyOverdue,
    ShipmentRequested,
    ShippingAddressChanged,
    ShippingProblem,
    StockAdjusted,
    StockRejected,
    StockReleased,
    StockReserved,
)
from streams.topics import IN_TABLE_WRITES

WHEN = datetime(2025, 3, 1, 9, 30, tzinfo=UTC)
ADDRESS = Address(
    name="Ada Lovelace",
    line1="12 Rue de la Paix",
    line2="Bâtiment B",
    city="Zürich",
    postal_code="8001",
    country="CH",
)
LINES = (
    OrderLine(sku="MUG-01", quantity=2, unit_price_cents=1250),
    OrderLine(sku="TEE-M", quantity=1, unit_price_cents=2000),
)


def _samples() -> list[AnyEvent]:
    envelope: dict[str, Any] = {
        "event_id": UUID("00000000-0000-4000-8000-000000000001"),
        "occurred_at": WHEN,
        "trace_id": "0af7651916cd43dd8448eb211c80319c",
    }
    common = envelope | {"order_id": "ord-1"}
    return [
        OrderPlaced(
            **common,
            user_id="usr-1",
            lines=LINES,
            total_cents=4500,
            currency="EUR",
            shipping_address=ADDRESS,
            payment_token="tok_visa",
        ),
        OrderCancelled(**common, reason="changed my mind"),
        PaymentRetryRequested(**common, payment_token="tok_mastercard"),
        RefundRetryRequested(**common, reason="retried by an operator"),
        ShippingAddressChanged(**common, shipping_address=ADDRESS),
        OrderStatusChanged(
            **common, from_status=OrderStatus.PENDING, to_status=OrderStatus.RESERVED, reason="ok"
        ),
        ReserveStock(**common, sku="MUG-01", quantity=2, expires_at=WHEN),
        StockReserved(**common, sku="MUG-01", quantity=2, expires_at=WHEN),
        StockRejected(**common, sku="MUG-01", requested=2, available=1),
        ReleaseStock(**common, sku="MUG-01", quantity=2, reason="payment failed"),
        CommitStock(**common, sku="MUG-01"),
        ReservationExpiryDue(**common),
        StockReleased(**common, sku="MUG-01", quantity=0),
        AdjustStock(**envelope, sku="MUG-01", delta=-3),
        StockAdjusted(**envelope, sku="MUG-01", on_hand=7),
        PaymentRequested(
            **common, amount_cents=4500, currency="EUR", payment_token="tok_visa", attempt=1
        ),
        PaymentSucceeded(
            **common, payment_id="pay_1", amount_cents=4500, currency="EUR", attempt=1
        ),
        PaymentFailed(
            **common, code="card_declined", message="declined", retryable=False, attempt=1
        ),
        RefundRequested(
            **common, payment_id="pay_1", amount_cents=4500, currency="EUR", reason="cancelled"
        ),
        PaymentRefunded(
            **common, refund_id="re_1", payment_id="pay_1", amount_cents=4500, currency="EUR"
        ),
        RefundFailed(
            **common,
            payment_id="pay_1",
            amount_cents=4500,
            currency="EUR",
            attempt=1,
            code="refused",
            reason="the card is expired",
            retryable=False,
        ),
        PaymentReconciliationDue(**common, idempotency_key="shopstream:ord-1:charge:1"),
        ShipmentRequested(**common, address=ADDRESS, lines=LINES),
        ShipmentDispatched(**common, carrier="DHL", tracking_number="JD0146"),
        ShippingProblem(**common, reason="address not found", attempt=1),
        ShipmentDelivered(**common),
        CarrierReplied(
            **common, attempt=1, outcome="dispatched", carrier="SimPost", tracking_number="SP1"
        ),
        ShipmentReplyOverdue(**common, attempt=1),
        ProductPriceChanged(
            **envelope,
            sku="MUG-01",
            old_price_cents=1250,
            old_currency="EUR",
            price_cents=1399,
            currency="EUR",
        ),
    ]


SAMPLES = _samples()


@pytest.fixture(params=SAMPLES, ids=lambda event: event.type)
def any_event(request: pytest.FixtureRequest) -> AnyEvent:
    event: AnyEvent = request.param
    return event


@pytest.fixture(
    params=[event for event in SAMPLES if event.type not in IN_TABLE_WRITES],
    ids=lambda event: event.type,
)
def any_published_event(request: pytest.FixtureRequest) -> AnyEvent:
    """Any event of the contract that travels on a topic of its own."""
    event: AnyEvent = request.param
    return event


@pytest.fixture
def all_events() -> list[AnyEvent]:
    return list(SAMPLES)
