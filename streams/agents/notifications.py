"""The notification agent: customer-facing order events become notifications on SNS.

It reads the saga's verdicts (``orders.status``) and the refunds (``payments.events``), asks
the domain whether the customer hears of the event, looks up the order (the status
projection) and the recipient with their preferences (the gateway's tables), and publishes one
SNS message per channel. It keeps no table: the notification ids derive from the event id, so
a redelivered event publishes the same notifications again and delivery drops the copies.

The order's read model is fed by another agent and may lag the event by a moment: the agent
waits for it (``summary_ready``) up to ``notification_read_model_wait_s``, then dead-letters
the event with the reason.
"""

from __future__ import annotations

import asyncio
import time
from datetime import datetime

import asyncpg
import faust

from shopstream.aws import aws_client
from shopstream.logs import get_logger
from streams.adapters.notification_publisher import publish
from streams.adapters.notification_topology import ensure_topic
from streams.agents.database import database
from streams.agents.processing import Outcome, consume
from streams.app import app, channels, settings
from streams.contract import AnyEvent
from streams.domain.notifications import (
    OrderSummary,
    is_customer_facing,
    notifications,
    summary_ready,
)
from streams.projections.notification_recipients import load_order, load_recipient
from streams.topics import ORDERS_STATUS, PAYMENTS_EVENTS

log = get_logger(__name__)


async def _order_when_ready(pool: asyncpg.Pool, event: AnyEvent) -> OrderSummary | None:
    order_id = str(getattr(event, "order_id", ""))
    deadline = time.monotonic() + settings.notification_read_model_wait_s
    pause = 0.05
    while True:
        order = await load_order(pool, order_id)
        if summary_ready(event, order):
            return order
        if time.monotonic() >= deadline:
            return None
        await asyncio.sleep(pause)
        pause = min(pause * 2, 2.0)


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
    pool = await database()
    order = await _order_when_ready(pool, event)
    if order is None:
        return Outcome(
            refused=(
                "the order is not in the read model (or lacks its tracking number) after "
                f"{settings.notification_read_model_wait_s:.0f}s"
            )
        )
    recipient = await load_recipient(pool, order.user_id)
    if recipient is None:
        log.info("no account for the order's user: nobody to notify", user_id=order.user_id)
        return Outcome()
    url = settings.notification_order_url.format(order_id=order.order_id)
    sent = notifications(event, order, recipient, url)
    sns = await publisher.sns()
    await publish(sns, publisher.topic_arn, event.type, sent)
    return Outcome()


@app.agent(channels.source(ORDERS_STATUS, PAYMENTS_EVENTS), name="notifications")
async def notification_agent(stream: faust.StreamT[bytes]) -> None:
    await consume("notifications", stream.events(), channels, apply)
