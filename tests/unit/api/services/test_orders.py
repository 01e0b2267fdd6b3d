"""The order's event and its 202 body, rebuilt from what an idempotency key holds."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from api.idempotency import Envelope, UnitPrice
from api.schemas.orders import OrderCreate
from api.security import Principal
from api.services.orders import accepted_body, placed_order
from streams.contract import encode

CUSTOMER = Principal("usr_1", "customer")
ENVELOPE = Envelope("ord_1", uuid.uuid4(), datetime(2026, 1, 2, 3, 4, 5, 678901, UTC), "a" * 32)
ADDRESS = {"name": "Ada", "line1": "1 Sq", "city": "London", "postal_code": "SW1", "country": "GB"}


def request(*lines: tuple[str, int]) -> OrderCreate:
    return OrderCreate.model_validate(
        {
            "lines": [{"sku": sku, "quantity": quantity} for sku, quantity in lines],
            "shipping_address": ADDRESS,
            "payment_token": "tok_visa",
        }
    )


def test_a_retry_rebuilds_the_first_event_and_body_byte_for_byte() -> None:
    prices = {"A": UnitPrice(100, "EUR"), "B": UnitPrice(250, "EUR")}
    first = placed_order(CUSTOMER, request(("B", 1), ("A", 3)), ENVELOPE, prices)
    retry = placed_order(CUSTOMER, request(("B", 1), ("A", 3)), ENVELOPE, dict(prices))
    assert encode(retry) == encode(first)
    assert accepted_body(retry) == accepted_body(first)
    assert first.event_id == ENVELOPE.event_id


def test_the_event_is_priced_from_the_key_in_the_requests_line_order() -> None:
    prices = {"A": UnitPrice(100, "GBP"), "B": UnitPrice(250, "GBP")}
    order = placed_order(CUSTOMER, request(("B", 2), ("A", 1)), ENVELOPE, prices)
    assert [(line.sku, line.unit_price_cents) for line in order.lines] == [("B", 250), ("A", 100)]
    assert (order.total_cents, order.currency) == (600, "GBP")
    assert order.payment_token == "tok_visa"  # from the request: never stored with the key


def test_the_body_names_the_order_and_leaves_the_payment_token_out() -> None:
    order = placed_order(CUSTOMER, request(("A", 1)), ENVELOPE, {"A": UnitPrice(100, "EUR")})
    body = accepted_body(order)
    assert '"order_id":"ord_1"' in body
    assert "tok_visa" not in body
