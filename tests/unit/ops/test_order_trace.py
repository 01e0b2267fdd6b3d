"""An order's path as `shopstream order trace` prints it, from its history."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from ops.order_trace import render
from streams.projections.history import HistoryEntry

PLACED = datetime(2026, 11, 27, 10, 0, 0, tzinfo=UTC)
TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CANCEL_TRACE = "0af7651916cd43dd8448eb211c80319c"


def entry(kind: str, after_ms: float, trace_id: str = TRACE, **summary: str) -> HistoryEntry:
    return HistoryEntry(
        order_id="ord-1",
        event_id=uuid.uuid4(),
        type=kind,
        occurred_at=PLACED + timedelta(milliseconds=after_ms),
        trace_id=trace_id,
        summary=summary,
        event_json="{}",
    )


def test_each_event_shows_its_time_since_the_first_and_the_previous_and_its_trace() -> None:
    lines = render(
        "ord-1",
        [
            entry("OrderPlaced", 0, currency="EUR"),
            entry("StockReserved", 40, sku="MUG-01"),
            entry("PaymentSucceeded", 1040),
            entry("OrderCancelled", 5000, CANCEL_TRACE, reason="changed my mind"),
        ],
    )
    assert lines[0] == (
        "ord-1: 4 events in 2 traces, from 2026-11-27 10:00:00.000000 UTC, over 5.000 s"
    )
    assert lines[1:3] == [
        f"  trace {TRACE} (from OrderPlaced)",
        f"  trace {CANCEL_TRACE} (from OrderCancelled)",
    ]
    assert lines[4] == "      0.000 s      0.0 ms  4bf92f35  OrderPlaced currency=EUR"
    assert lines[5] == "      0.040 s     40.0 ms  4bf92f35  StockReserved sku=MUG-01"
    assert lines[6] == "      1.040 s   1000.0 ms  4bf92f35  PaymentSucceeded"
    assert lines[7].endswith("0af76519  OrderCancelled reason=changed my mind")


def test_an_order_never_recorded_says_so() -> None:
    assert render("ord-x", []) == [
        "ord-x: no events recorded (the projector records the order history)"
    ]
