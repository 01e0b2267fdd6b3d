"""Items of the DynamoDB table of earlier releases, as rows of ``idempotency_keys``."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from api.idempotency import Envelope, UnitPrice
from api.idempotency_import import row_of
from api.schemas.orders import OrderCreate
from api.security import Principal
from api.services.orders import accepted_body, placed_order
from streams.contract import encode

ADDRESS = {"name": "Ada", "line1": "1 Sq", "city": "London", "postal_code": "SW1", "country": "GB"}
PLACED_AT = datetime(2026, 1, 2, 3, 4, 5, 678901, UTC)


def item(owner: str = "usr_1", status: int = 202) -> dict[str, Any]:
    request = OrderCreate.model_validate(
        {
            "lines": [{"sku": "B", "quantity": 1}, {"sku": "A", "quantity": 2}],
            "shipping_address": ADDRESS,
            "payment_token": "tok_visa",
        }
    )
    order = placed_order(
        Principal("usr_1", "customer"),
        request,
        Envelope("ord_1", uuid.UUID(int=7), PLACED_AT, "b" * 32),
        {"A": UnitPrice(100, "EUR"), "B": UnitPrice(250, "EUR")},
    )
    redacted = order.model_copy(update={"payment_token": "redacted"})
    return {
        "pk": {"S": f"{owner}#key#with#hashes"},
        "fingerprint": {"S": "f" * 64},
        "status": {"N": str(status)},
        "body": {"S": accepted_body(order)},
        "location": {"S": "/orders/ord_1"},
        "events": {"L": [{"S": encode(redacted).decode()}]},
        "created_at": {"N": "1767323045"},
        "expires_at": {"N": "1767409445"},
    }


def test_an_accepted_orders_item_becomes_its_row_with_prices_by_sku() -> None:
    row = row_of(item())
    assert row == (
        "usr_1",
        "key#with#hashes",  # the key may hold '#': only the first one separates the owner
        "f" * 64,
        "ord_1",
        uuid.UUID(int=7),
        PLACED_AT,
        "b" * 32,
        ["A", "B"],
        [100, 250],
        "EUR",
        datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
        datetime(2026, 1, 3, 3, 4, 5, tzinfo=UTC),
    )


def test_an_item_that_is_not_an_accepted_order_of_its_owner_is_refused_with_the_reason() -> None:
    assert row_of(item(status=500)) == "not one accepted order"
    assert row_of(item(owner="usr_2")) == "its event is not this owner's OrderPlaced"
    assert row_of({**item(), "pk": {"S": "no-separator"}}) == "its pk is not owner#key"
