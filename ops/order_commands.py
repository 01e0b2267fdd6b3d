"""Driving the saga from the command line: place orders, set stock, follow an order, retry a
failed refund."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable, Sequence

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition

from shopstream.settings import Settings
from streams.contract import (
    Address,
    AdjustStock,
    OrderLine,
    OrderPlaced,
    OrderStatus,
    OrderStatusChanged,
    RefundRetryRequested,
    decode_order_update,
)
from streams.domain.order_status import TERMINAL
from streams.projections.order_status import OrderDetail, get_order
from streams.publisher import EventPublisher, ensure_topics
from streams.topics import ORDERS_TABLE, changelog_spec, changelog_topic

DEMO_ADDRESS = Address(
    name="Ada Lovelace",
    line1="12 St James's Square",
    city="London",
    postal_code="SW1Y 4JH",
    country="GB",
)


def parse_line(text: str) -> OrderLine:
    """``SKU:QUANTITY:UNIT_PRICE_CENTS``, e.g. ``MUG-01:2:1299``."""
    try:
        sku, quantity, price = text.split(":")
        return OrderLine(sku=sku, quantity=int(quantity), unit_price_cents=int(price))
    except ValueError as error:
        raise ValueError(
            f"line {text!r}: expected SKU:QUANTITY:UNIT_PRICE_CENTS ({error})"
        ) from error


def new_order(
    lines: Sequence[OrderLine],
    card: str,
    user_id: str = "cli-user",
    address: Address = DEMO_ADDRESS,
) -> OrderPlaced:
    return OrderPlaced(
        order_id=f"ord-{uuid.uuid4().hex[:16]}",
        user_id=user_id,
        lines=tuple(lines),
        total_cents=sum(line.quantity * line.unit_price_cents for line in lines),
        currency="EUR",
        shipping_address=address,
        payment_token=card,
    )


async def set_stock(settings: Settings, sku: str, on_hand: int) -> None:
    async with EventPublisher(settings) as publisher:
        await publisher.publish([AdjustStock(sku=sku, set_to=on_hand)])


async def status_changes(
    settings: Settings, order_ids: set[str], ready: asyncio.Event
) -> AsyncIterator[OrderStatusChanged]:
    """Status changes of these orders from now on, as the writes of the orders table carry
    them; ``ready`` is set once positions are taken."""
    changelog = changelog_topic(settings.worker_app_id, ORDERS_TABLE)
    await ensure_topics(settings, [changelog_spec(changelog, settings.topic_partitions)])
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap_servers)
    await consumer.start()
    try:
        partitions = range(settings.topic_partitions)
        consumer.assign([TopicPartition(changelog, p) for p in partitions])
        await consumer.seek_to_end()
        for partition in consumer.assignment():
            await consumer.position(partition)
        ready.set()
        async for record in consumer:
            if record.value is not None and record.key and record.key.decode() in order_ids:
                for change in decode_order_update(record.value).status_changes:
                    yield change
    finally:
        await consumer.stop()


async def place_and_follow(
    settings: Settings, order: OrderPlaced, timeout_s: float
) -> list[OrderStatusChanged]:
    """Place the order and return its status changes up to a terminal status (or the timeout)."""
    ready = asyncio.Event()
    changes: list[OrderStatusChanged] = []

    async def follow() -> None:
        async for change in status_changes(settings, {order.order_id}, ready):
            changes.append(change)
            print(
                f"{change.occurred_at:%H:%M:%S.%f} {change.to_status:<16} {change.reason}",
                flush=True,
            )
            if change.to_status in TERMINAL or change.to_status is OrderStatus.PAYMENT_FAILED:
                return

    follower = asyncio.create_task(follow())
    await ready.wait()
    async with EventPublisher(settings) as publisher:
        await publisher.publish([order])
    print(f"placed {order.order_id} ({order.total_cents} {order.currency})", flush=True)
    try:
        await asyncio.wait_for(follower, timeout_s)
    except TimeoutError:
        print(f"no terminal status within {timeout_s:.0f}s", flush=True)
    return changes


class RefundNotRetryable(ValueError):
    """The order has no failed refund to retry, as far as its read model shows."""


async def retry_refund(
    settings: Settings,
    order_id: str,
    reason: str,
    timeout_s: float,
    say: Callable[[str], None],
) -> OrderDetail | None:
    """Ask the saga to request the order's failed refunds again, and follow the order's read
    model until they are settled again: the order as it then stands, or None after
    ``timeout_s``.

    Refused (``RefundNotRetryable``, ``LookupError``) unless the read model shows a failed
    refund; the saga checks again when the request arrives. It asks the provider again under
    the same idempotency key when it never answered (a refund it made meanwhile is answered,
    not made twice), under a new one when it refused.
    """
    pool = await asyncpg.create_pool(
        settings.database_url.get_secret_value(), min_size=1, max_size=1
    )
    try:
        order = await get_order(pool, order_id)
        if order is None:
            raise LookupError(f"no order {order_id} in the order read model")
        if order.refund_status != "failed":
            status = order.refund_status or "not asked for"
            raise RefundNotRetryable(
                f"the refund of order {order_id} is {status}: only a failed refund is retried"
            )
        say(f"refund of {order_id} failed ({order.refund_failure_reason}); asking again")
        async with EventPublisher(settings) as publisher:
            await publisher.publish([RefundRetryRequested(order_id=order_id, reason=reason)])
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            await asyncio.sleep(0.5)
            current = await get_order(pool, order_id)
            # Past the order as it was, and past "requested" (the retry under way).
            if (
                current is not None
                and current.version > order.version
                and current.refund_status in ("refunded", "failed")
            ):
                return current
        return None
    finally:
        await pool.close()
