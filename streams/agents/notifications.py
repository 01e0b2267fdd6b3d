"""The notification agent: the news of each order becomes notifications on SNS.

It follows the changelog of the saga's orders table (``streams.contract.OrderUpdate``): every
write of an order's row carries the status changes and refunds decided since the previous one,
with the order as it stands after them. For each item of news the domain says whether the
customer hears of it and what they are told; this agent looks up the recipient with their
preferences (the gateway's table) and publishes one SNS message per channel. It keeps no
table: the notification ids derive from the news' event ids, so a write read twice publishes
the same notifications again and delivery drops the copies.

A worker reads its own tables' changelogs only to restore them, so this agent runs outside the
saga's workers, in a consumer group of its own (the settings refuse it beside the saga). The
row it reads is the order the news happened to: nothing is waited for or looked up twice.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

import faust
from pydantic import ValidationError

from shopstream.aws import aws_client
from shopstream.logs import get_logger, record_context
from shopstream.metrics import STREAM_BATCH_DURATION, STREAM_BATCH_SIZE, STREAM_EVENTS
from streams.adapters.notification_publisher import publish
from streams.adapters.notification_topology import ensure_topic
from streams.agents.database import database
from streams.agents.processing import batches, dead_letter_all, each_key_in_turn
from streams.app import app, channels, settings
from streams.contract import OrderNews
from streams.domain.notifications import OrderSummary, is_customer_facing, notifications
from streams.domain.order_saga import OrderState
from streams.projections.notification_recipients import load_recipient
from streams.topics import ORDERS_TABLE

log = get_logger(__name__)
AGENT = "notifications"


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


def order_summary(order: OrderState) -> OrderSummary:
    return OrderSummary(
        order_id=order.order_id,
        user_id=order.user_id,
        lines=order.lines,
        total_cents=order.total_cents,
        currency=order.currency,
        tracking_number=order.tracking_number,
    )


async def notify(order: OrderState, news: OrderNews) -> None:
    """Tell the customer of one item of the order's news, on each channel they chose."""
    if not is_customer_facing(news):
        return
    pool = await database()
    recipient = await load_recipient(pool, order.user_id)
    if recipient is None:
        log.info("no account for the order's user: nobody to notify", user_id=order.user_id)
        return
    url = settings.notification_order_url.format(order_id=order.order_id)
    sent = notifications(news, order_summary(order), recipient, url)
    sns = await publisher.sns()
    await publish(sns, publisher.topic_arn, news.type, sent)


async def notify_all(message: faust.types.Message) -> str | None:
    """Every item of news one changelog record carries; the reason if it is refused."""
    if message.value is None:
        return None  # a row deleted from the table: no news
    try:
        order = OrderState.model_validate_json(message.value)
    except ValidationError as error:
        return f"not an order's row: {error}"
    for news in order.news:
        with record_context(
            order_id=order.order_id, trace_id=news.trace_id, event_id=str(news.event_id)
        ):
            try:
                await notify(order, news)
            except Exception as error:
                log.exception("notification not published", agent=AGENT, event_type=news.type)
                return f"not notified of {news.type} {news.event_id}: {error!r}"
    return None


async def notify_batch(records: Sequence[faust.EventT[bytes]]) -> list[str]:
    """The batch's records, orders at once (each waits on PostgreSQL and SNS), each order's
    writes in turn; what became of each record. Refused records are dead-lettered."""
    refusals = await each_key_in_turn(records, lambda record: notify_all(record.message))
    refused = [
        (record.message, reason)
        for record, reason in zip(records, refusals, strict=True)
        if reason is not None
    ]
    await dead_letter_all(AGENT, channels, refused)
    return ["applied" if reason is None else "dead_lettered" for reason in refusals]


@app.agent(channels.changelog(ORDERS_TABLE), name=AGENT)
async def notification_agent(stream: faust.StreamT[bytes]) -> None:
    async for batch in batches(stream):
        started = time.perf_counter()
        results = await notify_batch(batch)
        STREAM_BATCH_SIZE.labels(AGENT).observe(len(batch))
        STREAM_BATCH_DURATION.labels(AGENT).observe(time.perf_counter() - started)
        for result in set(results):
            STREAM_EVENTS.labels(AGENT, "OrderUpdate", result).inc(results.count(result))
