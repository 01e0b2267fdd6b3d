"""The order saga's agent: one OrderState per order_id in a RocksDB table.

Hears the order's own events and the answers of inventory, payments and shipping; the domain
(``streams.domain.order_saga``) decides; this module only loads, publishes and stores. The
row's changelog is the order's public record: each write carries the status changes decided
since the last one (``streams.contract.OrderUpdate``). A timer hints at reservations past
their deadline; the saga decides whether they expire.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import faust

from streams.agents.processing import Outcome, StagedTable, applied
from streams.app import app, channels, settings, table
from streams.contract import AnyEvent, ReservationExpiryDue
from streams.domain.order_saga import OrderState, SagaPolicy, decide, with_news
from streams.domain.order_status import OrderStatus
from streams.topics import (
    INVENTORY_EVENTS,
    ORDERS_EVENTS,
    ORDERS_TABLE,
    PAYMENTS_EVENTS,
    SHIPPING_EVENTS,
)

policy = SagaPolicy(
    reservation_ttl=timedelta(seconds=settings.reservation_ttl_s),
    max_shipping_attempts=settings.max_shipping_attempts,
)
orders_table = table(ORDERS_TABLE)
orders = StagedTable.of_model(orders_table, OrderState)
_UNPAID = frozenset({OrderStatus.PENDING, OrderStatus.RESERVED, OrderStatus.PAYMENT_FAILED})


def load(order_id: str) -> OrderState | None:
    return orders.get(order_id.encode())


async def apply(event: AnyEvent, now: datetime) -> Outcome:
    key = event.key.encode()
    decision = decide(load(event.key), event, now, policy)
    if decision.refused is not None:
        return Outcome(refused=decision.refused)
    if decision.duplicate or decision.state is None:
        return Outcome(duplicate=decision.duplicate)
    # The news of a row stored in an earlier batch went out with that write.
    staged = orders.staged(key)
    state, events = with_news(decision, event, staged.news if staged is not None else ())
    # Stored once the events are acknowledged; its changelog is what the order's followers read.
    orders.stage(key, state)
    return Outcome(events=events, stored=lambda: _track_deadline(state))


@app.agent(
    channels.source(ORDERS_EVENTS, INVENTORY_EVENTS, PAYMENTS_EVENTS, SHIPPING_EVENTS),
    name="orders",
)
async def orders_agent(stream: faust.StreamT[bytes]) -> AsyncIterator[str]:
    async for result in applied("orders", stream, channels, apply, [orders]):
        yield result


# Unpaid orders' deadlines (order_id -> (deadline, trace_id)), kept as rows are stored, so the
# timer does not decode every order ever placed on each tick. The table is scanned again now
# and then: rows recovered from a changelog after a rebalance never went through ``store``.
_deadlines: dict[str, tuple[datetime, str]] = {}
# order_id -> when it was last hinted; keeps a slow agent from being sent the same hint often.
_hinted: dict[str, float] = {}
_RESCAN_EVERY = 60  # ticks
_ticks = 0


def _track_deadline(state: OrderState) -> None:
    if state.status in _UNPAID:
        _deadlines[state.order_id] = (state.reservation_expires_at, state.trace_id)
    else:
        _deadlines.pop(state.order_id, None)
        _hinted.pop(state.order_id, None)


@app.timer(interval=settings.expiry_check_interval_s)  # type: ignore[untyped-decorator]
async def hint_expired_reservations() -> None:
    global _ticks
    if _ticks % _RESCAN_EVERY == 0:
        for raw in orders_table.values():
            _track_deadline(OrderState.model_validate_json(raw))
    _ticks += 1
    now = datetime.now(UTC)
    due = []
    for order_id, (deadline, trace_id) in _deadlines.items():
        last = _hinted.get(order_id, 0.0)
        if deadline <= now and time.monotonic() - last > settings.expiry_check_interval_s * 4:
            _hinted[order_id] = time.monotonic()
            due.append(ReservationExpiryDue(order_id=order_id, trace_id=trace_id))
    await channels.publish(due)
