"""The stream agents' dead-letter topic, operated against a real worker on real Kafka."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from ops.dead_letters import commands
from ops.dead_letters.kafka import KafkaDeadLetters
from shopstream.settings import Settings
from streams.contract import OrderCancelled, OrderStatus, OrderStatusChanged
from streams.publisher import layout
from streams.topics import DEAD_LETTERS, ORDERS_EVENTS, REDRIVEN_FROM_HEADER
from tests.integration.polling import eventually
from tests.integration.saga.conftest import Saga, running_saga


@pytest.fixture(scope="module")
async def saga(
    stack_settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Saga]:
    async with running_saga(stack_settings, tmp_path_factory.mktemp("dlq")) as running:
        yield running


def _cancellations(saga: Saga, order_id: str) -> int:
    return sum(
        1
        for event in saga.observer.events_of(order_id, OrderStatusChanged)
        if isinstance(event, OrderStatusChanged) and event.to_status == OrderStatus.CANCELLED
    )


async def _holds(dead_letters: KafkaDeadLetters, count: int) -> None:
    async def check() -> bool:
        return (await dead_letters.summary()).count == count

    await eventually(check, f"{dead_letters.name} holding {count}", timeout_s=60)


async def test_a_record_dead_lettered_is_listed_with_its_reason_and_redriven_to_apply_once(
    saga: Saga, unique: str
) -> None:
    sku = f"SKU-{unique}"
    dead_letters = KafkaDeadLetters(saga.settings)
    await saga.stock_up(sku, 1)
    order = saga.order([(sku, 1)], card="tok_chargeDeclined")
    # The cancellation overtakes its order: the saga cannot apply it, and dead-letters it.
    await saga.publish(OrderCancelled(order_id=order.order_id, reason="changed my mind"))
    await _holds(dead_letters, 1)

    lines: list[str] = []
    [summary] = [
        s
        for s in await commands.list_all(saga.settings, lines.append)
        if s.name == dead_letters.name
    ]
    assert summary.count == 1 and summary.oldest_age_s is not None
    assert any(line.startswith(dead_letters.name) for line in lines)
    [letter] = await commands.show(saga.settings, dead_letters.name, 10, lines.append)
    assert "for unknown order" in letter.reason
    assert letter.source.startswith(layout(saga.settings).spec(ORDERS_EVENTS).name)
    assert order.order_id in letter.text()

    await saga.publish(order)  # now the order exists (and waits, its payment declined)
    await saga.reaches(order.order_id, "payment_failed")
    assert await commands.redrive(saga.settings, dead_letters.name, lines.append) == 1
    await saga.reaches(order.order_id, "cancelled")
    await _holds(dead_letters, 0)
    # Nothing more to redrive: the record is not shown or sent again.
    assert await dead_letters.peek(10) == []
    assert await dead_letters.redrive() == 0
    assert _cancellations(saga, order.order_id) == 1
    # Sent back saying where it waited: a consumer may treat it with more care than a first
    # delivery (the payments agent looks a charge up before making it again).
    orders_events = layout(saga.settings).spec(ORDERS_EVENTS).name
    [redriven] = [
        seen
        for seen in saga.observer.seen
        if seen.topic == orders_events
        and seen.key == order.order_id.encode()
        and REDRIVEN_FROM_HEADER in dict(seen.headers)
    ]
    waited = dict(redriven.headers)[REDRIVEN_FROM_HEADER].decode()
    assert waited.startswith(layout(saga.settings).spec(DEAD_LETTERS).name + "/")


async def test_purge_asks_first_and_empties_the_topic_for_operators(saga: Saga) -> None:
    dead_letters = KafkaDeadLetters(saga.settings)
    topic = layout(saga.settings).spec(ORDERS_EVENTS).name
    await saga.publisher.producer.send_and_wait(topic, b"\xff not an event", key=b"ord-poison")
    await _holds(dead_letters, 1)
    [letter] = await dead_letters.peek(10)
    assert "not UTF-8" in letter.reason and "not UTF-8" in letter.text()

    said: list[str] = []
    refused = await commands.purge(saga.settings, dead_letters.name, lambda q: False, said.append)
    assert refused == 0 and (await dead_letters.summary()).count == 1
    assert await commands.purge(saga.settings, dead_letters.name, lambda q: True, said.append) == 1
    assert (await dead_letters.summary()).count == 0
