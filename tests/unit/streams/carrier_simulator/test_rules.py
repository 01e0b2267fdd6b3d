from __future__ import annotations

from streams.adapters.carrier_messages import ShipmentOrder
from streams.carrier_simulator.rules import answer
from streams.contract import Address, OrderLine


def _order(postal_code: str, attempt: int = 1) -> ShipmentOrder:
    address = Address(
        name="Ada", line1="1 Main St", city="Berlin", postal_code=postal_code, country="DE"
    )
    line = OrderLine(sku="MUG-01", quantity=1, unit_price_cents=100)
    return ShipmentOrder(order_id="ord-1", attempt=attempt, address=address, lines=(line,))


def test_an_ordinary_address_is_dispatched_now_and_delivered_later() -> None:
    decided = answer(_order("10115"), "SimPost", seen_before=False)
    [dispatched] = decided.now
    assert dispatched.outcome == "dispatched" and dispatched.tracking_number
    assert decided.later is not None and decided.later.outcome == "delivered"


def test_a_repeated_request_gets_the_same_tracking_number() -> None:
    first = answer(_order("10115"), "SimPost", seen_before=False)
    again = answer(_order("10115"), "SimPost", seen_before=True)
    assert first.now == again.now


def test_postal_code_00000_fails_every_attempt_and_00001_only_the_first() -> None:
    assert [r.outcome for r in answer(_order("00000", 3), "S", seen_before=False).now] == [
        "problem"
    ]
    assert answer(_order("00001", 1), "S", seen_before=False).now[0].outcome == "problem"
    assert answer(_order("00001", 2), "S", seen_before=False).now[0].outcome == "dispatched"


def test_postal_code_00002_loses_the_first_reply_and_answers_the_repeat() -> None:
    assert answer(_order("00002"), "S", seen_before=False).lost
    repeated = answer(_order("00002"), "S", seen_before=True)
    assert not repeated.lost and repeated.now[0].outcome == "dispatched"
