"""The saga's guarantees under pressure: no oversell, nothing twice, bad records dead-lettered."""

from __future__ import annotations

import asyncio
import json
from uuid import UUID

from aiokafka import AIOKafkaProducer, TopicPartition

from streams.contract import (
    OrderStatusChanged,
    PaymentSucceeded,
    ShipmentDispatched,
    StockReserved,
    decode,
    encode,
)
from streams.projections.history import order_timeline
from streams.publisher import layout
from streams.topics import (
    DEAD_LETTER_REASON_HEADER,
    DEAD_LETTER_SOURCE_HEADER,
    DEAD_LETTERS,
    ORDERS_EVENTS,
)
from tests.integration.polling import eventually
from tests.integration.saga.conftest import Saga, Seen

PAID_OR_LATER = {"paid", "shipped", "delivered"}


async def test_fifty_buyers_of_ten_units_make_ten_paid_orders_and_forty_rejected(
    saga: Saga, sku: str
) -> None:
    await saga.stock_up(sku, 10)
    orders = await asyncio.gather(*(saga.place([(sku, 1)]) for _ in range(50)))
    ids = [order.order_id for order in orders]
    terminal = PAID_OR_LATER | {"rejected"}
    await saga.observer.until(
        lambda: all(saga.observer.status(order_id) in terminal for order_id in ids),
        timeout_s=120,
        what="all 50 orders paid or rejected",
    )
    statuses = [saga.observer.status(order_id) for order_id in ids]
    assert sum(status in PAID_OR_LATER for status in statuses) == 10
    assert statuses.count("rejected") == 40
    await saga.observer.until(
        lambda: all(
            saga.observer.status(order_id) in {"delivered", "rejected"} for order_id in ids
        ),
        what="the ten paid orders delivered",
    )
    await saga.observer.until(
        lambda: (
            (stock := saga.observer.stock(sku)) is not None
            and (stock.on_hand, stock.reserved) == (0, 0)
        ),
        what="stock 0 once the ten parcels left",
    )


async def test_records_delivered_again_change_nothing(saga: Saga, sku: str) -> None:
    await saga.stock_up(sku, 2)
    order = await saga.place([(sku, 1)])
    await saga.reaches(order.order_id, "delivered")
    await saga.observer.until(
        lambda: (stock := saga.observer.stock(sku)) is not None and stock.on_hand == 1,
        what="the unit committed",
    )
    observer = saga.observer
    await _history_complete(saga, order.order_id)
    before = {
        "state": observer.states[order.order_id],
        "stock": observer.stock(sku),
        "payments": dict(observer.changelogs["payments"]),
        "shipments": dict(observer.changelogs["shipments"]),
    }
    # Every record about this order or its SKU, on every topic, sent again byte for byte.
    keys = {order.order_id.encode(), sku.encode()}
    prefix = saga.settings.topic_prefix
    again = [
        seen
        for seen in list(observer.seen)
        if seen.key in keys and seen.topic.startswith(prefix) and seen.value is not None
    ]
    assert {seen.topic.removeprefix(prefix) for seen in again} >= {
        "orders.events",
        "inventory.commands",
        "inventory.events",
        "payments.commands",
        "payments.events",
        "shipping.commands",
        "shipping.events",
    }
    producer = AIOKafkaProducer(bootstrap_servers=saga.settings.kafka_bootstrap_servers, acks="all")
    await producer.start()
    ends: dict[TopicPartition, int] = {}
    try:
        for seen in again:
            sent = await producer.send_and_wait(
                seen.topic, seen.value, key=seen.key, headers=list(seen.headers)
            )
            ends[TopicPartition(seen.topic, sent.partition)] = sent.offset + 1
    finally:
        await producer.stop()
    await saga.committed_offsets_reach(ends)

    assert observer.states[order.order_id] == before["state"]
    assert observer.stock(sku) == before["stock"]
    assert dict(observer.changelogs["payments"]) == before["payments"]
    assert dict(observer.changelogs["shipments"]) == before["shipments"]
    # One history row per event, however often it came: the history's key is the event id.
    await _history_complete(saga, order.order_id)
    recorded = [entry.event_id for entry in await order_timeline(saga.settings, order.order_id)]
    assert sorted(recorded) == sorted(_history_event_ids(saga, order.order_id))
    for kind in (PaymentSucceeded, StockReserved, ShipmentDispatched):
        ids = {event.event_id for event in observer.events_of(order.order_id, kind)}
        assert len(ids) == 1, f"{kind.__name__} produced anew: {ids}"


def _history_event_ids(saga: Saga, order_id: str) -> set[UUID]:
    """Every event of the order the history records, as the observer saw them: on the topics,
    and the status changes in the orders table's writes."""
    history_topics = {
        saga.settings.topic_prefix + name
        for name in ("orders.events", "inventory.events", "payments.events", "shipping.events")
    }
    on_topics = {
        decode(seen.value).event_id
        for seen in saga.observer.seen
        if seen.topic in history_topics and seen.key == order_id.encode() and seen.value
    }
    changes = saga.observer.events_of(order_id, OrderStatusChanged)
    return on_topics | {change.event_id for change in changes}


async def _history_complete(saga: Saga, order_id: str, timeout_s: float = 60) -> None:
    """The DynamoDB history is a projection: wait until it holds every event of the order seen
    so far."""

    async def complete() -> bool:
        recorded = {entry.event_id for entry in await order_timeline(saga.settings, order_id)}
        return recorded >= _history_event_ids(saga, order_id)

    await eventually(complete, "the history holding every event of the order", timeout_s)


async def test_a_record_that_breaks_the_contract_is_dead_lettered_and_the_agent_goes_on(
    saga: Saga, sku: str
) -> None:
    deployed = layout(saga.settings)
    garbage = b'{"type": "OrderPlaced", "order_id": "ord-broken"}'
    producer = AIOKafkaProducer(bootstrap_servers=saga.settings.kafka_bootstrap_servers)
    await producer.start()
    try:
        await producer.send_and_wait(deployed.spec(ORDERS_EVENTS).name, garbage, key=b"ord-broken")
    finally:
        await producer.stop()
    dead_letters = deployed.spec(DEAD_LETTERS).name
    await saga.observer.until(
        lambda: any(
            seen.topic == dead_letters and seen.value == garbage for seen in saga.observer.seen
        ),
        what="the record on the dead-letter topic",
    )
    [dead] = [
        seen for seen in saga.observer.seen if seen.topic == dead_letters and seen.value == garbage
    ]
    reason = dict(dead.headers)[DEAD_LETTER_REASON_HEADER].decode()
    assert reason == "missing field 'schema_version'" and dead.key == b"ord-broken"
    assert json.loads(dead.value or b"") == json.loads(garbage)
    # The agent was not stopped by it.
    await saga.stock_up(sku, 1)
    order = await saga.place([(sku, 1)])
    await saga.reaches(order.order_id, "delivered")


async def test_an_order_whose_address_holds_a_control_character_is_dead_lettered_with_why(
    saga: Saga, sku: str
) -> None:
    # What a producer other than the gateway could write: the name a label printer would print.
    await saga.stock_up(sku, 1)
    order = saga.order([(sku, 1)])
    payload = json.loads(encode(order))
    payload["shipping_address"]["name"] = "Grace\x00Hopper"
    poison = json.dumps(payload).encode()
    producer = AIOKafkaProducer(bootstrap_servers=saga.settings.kafka_bootstrap_servers)
    await producer.start()
    try:
        topic = layout(saga.settings).spec(ORDERS_EVENTS).name
        await producer.send_and_wait(topic, poison, key=order.key.encode())
    finally:
        await producer.stop()
    dead_letters = layout(saga.settings).spec(DEAD_LETTERS).name

    def dead() -> list[Seen]:
        return [s for s in saga.observer.seen if s.topic == dead_letters and s.value == poison]

    await saga.observer.until(lambda: bool(dead()), what="the order on the dead-letter topic")
    [letter] = dead()
    assert dict(letter.headers)[DEAD_LETTER_REASON_HEADER].decode() == (
        "invalid OrderPlaced: shipping_address.name: Value error, must not contain control "
        "characters or NUL (found U+0000 NUL at position 5)"
    )
    assert dict(letter.headers)[DEAD_LETTER_SOURCE_HEADER].decode().startswith(f"{topic}/")
    # Refused, not applied: no state, no stock held for it; the same order, clean, goes through.
    assert saga.observer.status(order.order_id) is None
    await saga.publish(order)
    await saga.reaches(order.order_id, "delivered")
