"""The live stream's pieces that need no broker: what an event becomes, how a stream resumes,
and how the hub fans events out to the followers of an order and of its owner."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any, cast
from uuid import uuid4

import asyncpg

from api.routes.live import after, order_backlog, sse_frame
from api.services.live import LiveEvent, LiveHub, Subscription, in_time_order, live_event
from shopstream.settings import Settings
from streams.contract import (
    Address,
    OrderLine,
    OrderPlaced,
    PaymentFailed,
    ReserveStock,
    ShipmentDelivered,
)
from streams.projections.history import HistoryEntry, history_item

ADDRESS = Address(name="A", line1="1 Road", city="Town", postal_code="1", country="GB")


def placed(order_id: str = "ord-1", user_id: str = "usr-1") -> OrderPlaced:
    return OrderPlaced(
        order_id=order_id,
        user_id=user_id,
        lines=(OrderLine(sku="MUG-01", quantity=1, unit_price_cents=500),),
        total_cents=500,
        currency="EUR",
        shipping_address=ADDRESS,
        payment_token="tok_visa",
    )


def event(order_id: str, name: str = "ShipmentDelivered", second: int = 0) -> LiveEvent:
    at = datetime(2026, 1, 1, 12, 0, second, tzinfo=UTC)
    return LiveEvent(order_id, str(uuid4()), name, at, {})


# Placed, then shipped (the saga's status change), then delivered: at seconds 0, 2 and 3.
_JOURNEY = (("OrderPlaced", 0), ("OrderStatusChanged", 2), ("ShipmentDelivered", 3))


def test_an_order_event_becomes_its_timeline_entry_without_the_payment_token() -> None:
    live = live_event(placed())
    assert live is not None
    assert live.type == "OrderPlaced"
    assert live.summary == {"user_id": "usr-1", "total_cents": 500, "currency": "EUR"}
    assert "tok_visa" not in repr(live)


def test_sku_keyed_commands_are_not_order_events() -> None:
    reserve = ReserveStock(
        order_id="ord-1", sku="MUG-01", quantity=1, expires_at=datetime(2026, 1, 1, tzinfo=UTC)
    )
    assert live_event(reserve) is None


def test_a_frame_carries_the_event_id_kind_text_and_toast() -> None:
    failed = live_event(
        PaymentFailed(
            order_id="ord-1", code="card_declined", message="no", retryable=False, attempt=1
        )
    )
    assert failed is not None
    frame = sse_frame(failed, "order")
    lines = frame.split("\n")
    assert lines[0] == f"id: {failed.event_id}"
    assert lines[1] == "event: order"
    data = json.loads(lines[2].removeprefix("data: "))
    assert data["text"] == "Payment failed: the card was declined"
    assert data["toast"]["action"] == "retry-payment"
    assert frame.endswith("\n\n")


def test_resuming_sends_what_follows_the_last_id_or_everything_for_an_unknown_id() -> None:
    events = [event("o", second=second) for second in range(4)]
    assert after(events, events[1].event_id) == events[2:]
    assert after(events, events[-1].event_id) == []
    assert after(events, "not-an-id") == events
    assert after(events, None) == events


def test_resuming_repeats_the_events_that_occurred_just_before_the_last_one_seen() -> None:
    # Stored out of order by a moment: the browser may have got the later one live only.
    early, close, last, next_one = (event("o", second=s) for s in (0, 9, 10, 11))
    assert after([early, close, last, next_one], last.event_id, overlap_s=2.0) == [
        close,
        next_one,
    ]


def test_the_backlog_is_in_the_order_things_happened_not_the_order_they_were_stored() -> None:
    # The history stored the delivery before the status change the saga had made earlier
    # (each topic is projected on its own); the gateway has that change among its recent.
    placed_, shipped, delivered = (event("o", name, s) for name, s in _JOURNEY)
    stored = [placed_, delivered]

    backlog = order_backlog(stored, [shipped, delivered], None, overlap_s=2.0)

    assert [e.type for e in backlog] == ["OrderPlaced", "OrderStatusChanged", "ShipmentDelivered"]


def test_events_of_one_instant_keep_one_order_whatever_order_they_come_in() -> None:
    at = datetime(2026, 1, 1, 12, 0, 0, 123456, tzinfo=UTC)
    same = [LiveEvent("o", str(uuid4()), "StockReserved", at, {}) for _ in range(5)]
    later = LiveEvent("o", str(uuid4()), "ShipmentRequested", at + timedelta(microseconds=1), {})

    orders = {tuple(e.event_id for e in in_time_order([later, *same[::step]])) for step in (1, -1)}

    assert len(orders) == 1
    (order,) = orders
    assert order[-1] == later.event_id
    assert list(order[:-1]) == sorted(e.event_id for e in same)


def test_a_status_change_comes_before_what_the_same_decision_sent_on() -> None:
    at = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    for _ in range(20):  # whatever the ids
        reserved = LiveEvent("o", str(uuid4()), "OrderStatusChanged", at, {})
        payment = LiveEvent("o", str(uuid4()), "PaymentRequested", at, {})

        assert in_time_order([payment, reserved]) == [reserved, payment]


def test_resuming_after_an_event_sends_what_happened_after_it_in_time_order() -> None:
    placed_, shipped, delivered = (event("o", name, s) for name, s in _JOURNEY)

    backlog = order_backlog([placed_, delivered], [shipped], placed_.event_id, overlap_s=0.0)

    assert backlog == [shipped, delivered]


def test_a_frame_places_the_event_where_the_stored_timeline_does() -> None:
    delivered = ShipmentDelivered(order_id="ord-1")
    live, stored = live_event(delivered), history_item(delivered)
    assert live is not None and stored is not None

    data = json.loads(sse_frame(live, "order").split("\n")[2].removeprefix("data: "))

    assert data["timeline_key"] == HistoryEntry.from_item(stored).timeline_key


def test_a_subscriber_that_falls_behind_is_cut_off_rather_than_blocking_the_hub() -> None:
    subscription = Subscription(asyncio.Queue(2))
    for _ in range(3):
        subscription.offer(event("o"))
    assert subscription.cut_off
    assert subscription.queue.qsize() == 2


async def test_the_hub_hands_events_to_the_orders_and_the_owners_followers() -> None:
    # The owner comes from OrderPlaced itself: no database needed for this order.
    hub = LiveHub(Settings(), cast(asyncpg.Pool, None))
    first = live_event(placed("ord-9", "usr-9"))
    delivered = live_event(ShipmentDelivered(order_id="ord-9"))
    assert first is not None and delivered is not None
    with (
        hub.follow_order("ord-9") as order,
        hub.follow_order("ord-other") as other_order,
        hub.follow_user("usr-9") as owner,
        hub.follow_user("usr-other") as stranger,
    ):
        await hub.publish(first)
        await hub.publish(delivered)
        got: dict[str, list[Any]] = {
            name: [s.queue.get_nowait() for _ in range(s.queue.qsize())]
            for name, s in {
                "order": order,
                "other": other_order,
                "owner": owner,
                "stranger": stranger,
            }.items()
        }
    assert got == {
        "order": [first, delivered],
        "other": [],
        "owner": [first, delivered],
        "stranger": [],
    }
    assert hub.recent_for_order("ord-9") == [first, delivered]
    assert hub.recent_for_user("usr-9") == [first, delivered]
    assert hub.recent_for_user("usr-9", seen_since=4102444800.0) == []  # year 2100
