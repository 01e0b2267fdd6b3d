"""The notification agent: customer-facing order events become notifications on SNS.

It reads the saga's verdicts (``orders.status``) and the refunds (``payments.events``), asks
the domain whether the customer hears of the event, looks up the order and the recipient with
their preferences (the gateway's tables), and publishes one SNS message per channel. It keeps
no table: the notification ids derive from the event id, so a redelivered event publishes the
same notifications again and delivery drops the copies.

The order is the saga's own row: this agent runs in the saga's workers (the settings refuse
the notifications role without the saga), and the row of an order lives on the worker that
reads its events, since every order-keyed topic is partitioned alike. The orders agent stages
the row before it sends the events of the same decision, so the row is there, at least as new
as the event, when the event arrives: no read model is waited for.
"""

from __future__ import annotations

import asyncio
import time
from datetime import datetime

import faust

from shopstream.aws import aws_client
from shopstream.logs import get_logger
from streams.adapters.notification_publisher import publish
from streams.adapters.notification_topology import ensure_topic
from streams.agents.database import database
from streams.agents.orders import load
from streams.agents.processing import Outcome, consume
from streams.app import app, channels, settings
from streams.contract import AnyEvent
from streams.domain.notifications import (
    OrderSummary,
    is_customer_facing,
    notifications,
    summary_ready,
)
from streams.projections.notification_recipients import load_recipient
from streams.topics import ORDERS_STATUS, PAYMENTS_EVENTS

log = get_logger(__name__)


class _Publisher:
    """The SNS client and topic, opened on first use and kept for the worker's life."""

    def __init__(self) -> None:
        self._lock = asyncio.Lock()
        self._sns: object | None = None
        self.topic_arn = ""

    async def sns(self) -> object:
        async with self._lock:
            if self._sns is None:
                # Entered once and never exited: the client lives as long as the worker.
                sns = await aws_client(settings, "sns").__aenter__()
                self.topic_arn = await ensure_topic(settings, sns)
                self._sns = sns
        return self._sns


publisher = _Publisher()


async def apply(event: AnyEvent, now: datetime) -> Outcome:
    if not is_customer_facing(event):
        return Outcome()
    order = await _order_when_ready(event)
    if order is None:
        return Outcome(refused="the saga has no row for this order (or no tracking number yet)")
    pool = await database()
    recipient = await load_recipient(pool, order.user_id)
    if recipient is None:
        log.info("no account for the order's user: nobody to notify", user_id=order.user_id)
        return Outcome()
    url = settings.notification_order_url.format(order_id=order.order_id)
    sent = notifications(event, order, recipient, url)
    sns = await publisher.sns()
    await publish(sns, publisher.topic_arn, event.type, sent)
    return Outcome()


async def _order_when_ready(event: AnyEvent) -> OrderSummary | None:
    """The order as the saga's row has it once it reflects ``event``, waiting for the row a
    while: after a crash the status change may be read before the orders agent has replayed
    the batch that stores its row."""
    order_id = str(getattr(event, "order_id", ""))
    deadline = time.monotonic() + settings.notification_order_wait_s
    while True:
        order = order_summary(order_id)
        if order is not None and summary_ready(event, order):
            return order
        if time.monotonic() >= deadline:
            return None
        await asyncio.sleep(0.1)


def order_summary(order_id: str) -> OrderSummary | None:
    state = load(order_id)
    if state is None:
        return None
    return OrderSummary(
        order_id=state.order_id,
        user_id=state.user_id,
        lines=state.lines,
        total_cents=state.total_cents,
        currency=state.currency,
        tracking_number=state.tracking_number,
    )


@app.agent(channels.source(ORDERS_STATUS, PAYMENTS_EVENTS), name="notifications")
async def notification_agent(stream: faust.StreamT[bytes]) -> None:
    # Orders at once: each waits on PostgreSQL (the recipient) and SNS.
    await consume("notifications", stream, channels, apply, keys_at_once=True)
