"""The projector as the stack runs it (``python -m streams worker`` with the projections only),
fed records its stores refuse: each goes to the dead-letter topic with why, and the
projection writes the records after it.

No saga runs here: the test writes the saga's table changelogs and the order events itself, so
what the projector sees is exactly what the test sent.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from shopstream.settings import Settings
from streams.contract import Address, OrderLine, OrderPlaced, encode
from streams.domain.inventory import Stock
from streams.domain.order_saga import OrderState, SagaPolicy, decide
from streams.projections.history import history_client, order_timeline
from streams.projections.order_status import get_order
from streams.projections.stock import get_stock_levels
from streams.publisher import EventPublisher, layout
from streams.testing import IsolatedWorker
from streams.topics import (
    DEAD_LETTER_REASON_HEADER,
    DEAD_LETTER_SOURCE_HEADER,
    DEAD_LETTERS,
    ORDERS_EVENTS,
    ORDERS_TABLE,
    STOCK_TABLE,
    changelog_topic,
)
from tests.integration.polling import eventually

ADDRESS = Address(name="Ada", line1="1 Main St", city="Berlin", postal_code="10115", country="DE")
# PostgreSQL's integer (stock levels, line quantities) ends below this; the contract's counts
# are unbounded.
TOO_MANY = 2**31


@dataclass(frozen=True)
class DeadLetter:
    key: bytes | None
    value: bytes | None
    reason: str
    source: str


@dataclass
class Projector:
    worker: IsolatedWorker
    pool: asyncpg.Pool
    producer: AIOKafkaProducer

    @property
    def settings(self) -> Settings:
        return self.worker.settings

    def changelog(self, table: str) -> str:
        return changelog_topic(self.worker.app_id, table)

    async def send_all(self, topic: str, records: list[tuple[bytes, bytes]]) -> None:
        """Every record handed to the producer before any is awaited: one batch, likely."""
        deliveries = [await self.producer.send(topic, value, key=key) for key, value in records]
        await asyncio.gather(*deliveries)

    async def dead_letter(self, value: bytes, timeout_s: float = 60) -> DeadLetter:
        """The record whose value is ``value`` on the dead-letter topic, once it is there."""
        topic = layout(self.settings).spec(DEAD_LETTERS).name
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.settings.kafka_bootstrap_servers, enable_auto_commit=False
        )
        await consumer.start()
        try:
            consumer.assign(
                [TopicPartition(topic, p) for p in range(self.settings.topic_partitions)]
            )
            await consumer.seek_to_beginning()
            deadline = time.monotonic() + timeout_s
            while time.monotonic() < deadline:
                for records in (await consumer.getmany(timeout_ms=500)).values():
                    for record in records:
                        if record.value == value:
                            headers = {name: raw.decode() for name, raw in record.headers}
                            return DeadLetter(
                                record.key,
                                record.value,
                                headers[DEAD_LETTER_REASON_HEADER],
                                headers[DEAD_LETTER_SOURCE_HEADER],
                            )
        finally:
            await consumer.stop()
        raise AssertionError(f"not dead-lettered within {timeout_s:.0f}s: {value[:100]!r}")


async def _declare_changelogs(settings: Settings, names: list[str]) -> None:
    """What the saga's worker declares as it starts: its tables' changelogs, compacted."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    await admin.start()
    try:
        await admin.create_topics(
            [
                NewTopic(
                    name,
                    num_partitions=settings.topic_partitions,
                    replication_factor=1,
                    topic_configs={"cleanup.policy": "compact"},
                )
                for name in names
            ]
        )
    finally:
        await admin.close()


@pytest.fixture(scope="module")
async def projector(
    stack_settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Projector]:
    history_table = f"test-history-{uuid.uuid4().hex[:10]}"
    saga = IsolatedWorker(
        stack_settings,
        tmp_path_factory.mktemp("projector"),
        "projector-test",
        SHOPSTREAM_HISTORY_TABLE=history_table,
    )
    worker = saga.beside(["projections"])
    worker.settings = worker.settings.model_copy(update={"history_table": history_table})
    publisher = EventPublisher(worker.settings)
    await publisher.start()  # declares this run's topics
    await _declare_changelogs(
        worker.settings,
        [changelog_topic(worker.app_id, table) for table in (ORDERS_TABLE, STOCK_TABLE)],
    )
    pool = await asyncpg.create_pool(
        stack_settings.database_url.get_secret_value(), min_size=1, max_size=2
    )
    producer = AIOKafkaProducer(bootstrap_servers=stack_settings.kafka_bootstrap_servers)
    await producer.start()
    worker.start()
    try:
        await worker.wait_web()
        yield Projector(worker, pool, producer)
    finally:
        worker.stop()
        await producer.stop()
        await pool.close()
        await publisher.stop()
        await worker.delete_topics()
        async with history_client(worker.settings) as client:
            await client.delete_table(TableName=history_table)


def _placed(order_id: str, lines: tuple[OrderLine, ...]) -> OrderPlaced:
    return OrderPlaced(
        order_id=order_id,
        user_id="usr-projector-test",
        lines=lines,
        total_cents=sum(line.subtotal_cents for line in lines),
        currency="EUR",
        shipping_address=ADDRESS,
        payment_token="tok_visa",
    )


def _state(order_id: str, **changes: object) -> OrderState:
    line = OrderLine(sku="MUG-01", quantity=1, unit_price_cents=1250)
    decision = decide(None, _placed(order_id, (line,)), datetime.now(UTC), SagaPolicy())
    assert decision.state is not None
    # A copy, not a validation: the row as a saga with a laxer (or buggier) release wrote it.
    return decision.state.model_copy(update=changes)


def _row(state: OrderState | Stock) -> bytes:
    return state.model_dump_json().encode()


async def _eventually_found(read: Callable[[], Awaitable[object]], what: str) -> None:
    async def found() -> bool:
        return (await read()) is not None

    await eventually(found, what, timeout_s=60)


async def test_order_states_postgresql_refuses_are_dead_lettered_and_the_next_is_written(
    projector: Projector, unique: str
) -> None:
    unstorable = _state(f"ord-nul-{unique}", status_reason="order\x00placed")
    out_of_range = _state(
        f"ord-big-{unique}",
        lines=(OrderLine(sku="MUG-01", quantity=TOO_MANY, unit_price_cents=1),),
    )
    good = _state(f"ord-good-{unique}")
    topic = projector.changelog(ORDERS_TABLE)
    await projector.send_all(
        topic,
        [(state.order_id.encode(), _row(state)) for state in (unstorable, out_of_range, good)],
    )

    await _eventually_found(
        lambda: get_order(projector.pool, good.order_id), "the good order in PostgreSQL"
    )
    refused_nul = await projector.dead_letter(_row(unstorable))
    refused_big = await projector.dead_letter(_row(out_of_range))
    assert refused_nul.key == unstorable.order_id.encode()
    assert refused_nul.reason.startswith("not written to PostgreSQL: ")
    assert "0x00" in refused_nul.reason, refused_nul.reason
    assert "out of int32 range" in refused_big.reason, refused_big.reason
    assert refused_nul.source.startswith(f"{topic}/")
    assert await get_order(projector.pool, unstorable.order_id) is None
    assert await get_order(projector.pool, out_of_range.order_id) is None


async def test_stock_levels_postgresql_refuses_are_dead_lettered_and_the_next_is_written(
    projector: Projector, unique: str
) -> None:
    too_many = Stock(sku=f"BIG-{unique}", on_hand=TOO_MANY, revision=1)
    good = Stock(sku=f"OK-{unique}", on_hand=5, revision=1)
    topic = projector.changelog(STOCK_TABLE)
    await projector.send_all(
        topic, [(stock.sku.encode(), _row(stock)) for stock in (too_many, good)]
    )

    async def good_level() -> object:
        return (await get_stock_levels(projector.pool, [good.sku])).get(good.sku)

    await _eventually_found(good_level, "the good stock level in PostgreSQL")
    refused = await projector.dead_letter(_row(too_many))
    assert refused.key == too_many.sku.encode()
    assert refused.reason.startswith("not written to PostgreSQL: ")
    assert "out of int32 range" in refused.reason, refused.reason
    assert refused.source.startswith(f"{topic}/")
    assert await get_stock_levels(projector.pool, [too_many.sku]) == {}


async def test_an_event_dynamodb_refuses_is_dead_lettered_and_the_next_is_recorded(
    projector: Projector, unique: str
) -> None:
    # Ten thousand lines: a valid order, but its history item is over DynamoDB's 400 KB.
    huge = _placed(
        f"ord-huge-{unique}",
        tuple(OrderLine(sku=f"S-{n:05}", quantity=1, unit_price_cents=1) for n in range(10_000)),
    )
    good = _placed(f"ord-good-{unique}", (OrderLine(sku="MUG-01", quantity=1, unit_price_cents=1),))
    topic = layout(projector.settings).spec(ORDERS_EVENTS).name
    await projector.send_all(topic, [(event.key.encode(), encode(event)) for event in (huge, good)])

    async def recorded() -> list[str]:
        timeline = await order_timeline(projector.settings, good.order_id)
        return [entry.type for entry in timeline]

    assert await eventually(recorded, "the good order in the history", timeout_s=60) == [
        "OrderPlaced"
    ]
    refused = await projector.dead_letter(encode(huge))
    assert refused.key == huge.order_id.encode()
    assert refused.reason.startswith("not written to DynamoDB: "), refused.reason
    assert "ValidationException" in refused.reason, refused.reason
    assert refused.source.startswith(f"{topic}/")
    assert await order_timeline(projector.settings, huge.order_id) == []
