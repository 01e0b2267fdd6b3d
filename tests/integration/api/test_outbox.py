"""Price changes through the outbox: the gateway commits the event row with the new price and
its relay publishes it to ``catalog.events``, at least once, even across a kill -9.

The gateways here have a topic prefix of their own, so their relays send only this module's
rows, and nothing else in the shared database or on the broker meets them.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from api.outbox import LOCK_NAMESPACE, Outbox
from shopstream.settings import Settings
from streams.contract import ProductPriceChanged, decode
from streams.publisher import EventPublisher
from streams.topics import CATALOG_EVENTS
from tests.integration.api.conftest import (
    Catalog,
    GatewayProcess,
    Person,
    sign_in,
    start_gateway,
    stop_gateway,
)

PREFIX = f"outbox-test-{uuid.uuid4().hex[:8]}."
TOPIC = PREFIX + CATALOG_EVENTS.name


def _start(folder: Path, run: int) -> GatewayProcess:
    return start_gateway(
        folder / f"gateway-{run}.log",
        {
            "SHOPSTREAM_TOPIC_PREFIX": PREFIX,
            "SHOPSTREAM_GATEWAY_ROUTERS": '["users", "products"]',
            "SHOPSTREAM_OUTBOX_POLL_INTERVAL_S": "0.2",
        },
    )


@dataclass
class CatalogEvents:
    """Every record on this module's catalog.events, as it arrives."""

    settings: Settings
    seen: list[ProductPriceChanged] = field(default_factory=list)

    async def run(self) -> None:
        consumer = AIOKafkaConsumer(bootstrap_servers=self.settings.kafka_bootstrap_servers)
        await consumer.start()
        try:
            consumer.assign(
                [TopicPartition(TOPIC, p) for p in range(self.settings.topic_partitions)]
            )
            await consumer.seek_to_beginning()
            async for record in consumer:
                event = decode(record.value or b"")
                assert isinstance(event, ProductPriceChanged)
                assert record.key == event.sku.encode()
                self.seen.append(event)
        finally:
            await consumer.stop()

    def of(self, sku: str) -> list[ProductPriceChanged]:
        return [event for event in self.seen if event.sku == sku]

    async def until(
        self, condition: Callable[[], object], what: str, timeout_s: float = 30
    ) -> None:
        deadline = time.monotonic() + timeout_s
        while not condition():
            assert time.monotonic() < deadline, f"not within {timeout_s:.0f}s: {what}"
            await asyncio.sleep(0.1)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("outbox")


@pytest.fixture(scope="module")
def first_gateway(folder: Path) -> Iterator[GatewayProcess]:
    started = _start(folder, 1)  # its publisher declares this prefix's topics
    try:
        yield started
    finally:
        stop_gateway(started)


@pytest.fixture(scope="module")
async def events(
    stack_settings: Settings, first_gateway: GatewayProcess
) -> AsyncIterator[CatalogEvents]:
    watcher = CatalogEvents(stack_settings)
    task = asyncio.create_task(watcher.run())
    yield watcher
    task.cancel()
    admin = AIOKafkaAdminClient(bootstrap_servers=stack_settings.kafka_bootstrap_servers)
    await admin.start()
    try:
        await admin.delete_topics([t for t in await admin.list_topics() if t.startswith(PREFIX)])
    finally:
        await admin.close()


@pytest.fixture
async def db(stack_settings: Settings) -> AsyncIterator[asyncpg.Connection]:
    connection = await asyncpg.connect(stack_settings.database_url.get_secret_value())
    yield connection
    await connection.close()


@asynccontextmanager
async def _shop(gateway: GatewayProcess, admin: Person) -> AsyncIterator[Catalog]:
    async with httpx.AsyncClient(base_url=gateway.url, timeout=30) as client:
        yield Catalog(client, await sign_in(client, admin.email))


async def _unsent(db: asyncpg.Connection) -> int:
    count: int = await db.fetchval(
        "SELECT count(*) FROM outbox WHERE topic = $1 AND sent_at IS NULL", TOPIC
    )
    return count


async def _drained(db: asyncpg.Connection, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while await _unsent(db):
        assert time.monotonic() < deadline, "the outbox was not drained"
        await asyncio.sleep(0.1)


async def test_a_price_change_is_published_with_the_old_and_the_new_price(
    first_gateway: GatewayProcess, admin: Person, events: CatalogEvents, db: asyncpg.Connection
) -> None:
    async with _shop(first_gateway, admin) as catalog:
        sku = await catalog.add(price_cents=1250)
        renamed = await catalog.client.patch(
            f"/products/{sku}", json={"name": "Big mug"}, headers=catalog.admin.headers
        )
        repriced = await catalog.client.patch(
            f"/products/{sku}", json={"price_cents": 1399}, headers=catalog.admin.headers
        )
    assert renamed.status_code == repriced.status_code == 200

    await events.until(lambda: events.of(sku), f"ProductPriceChanged for {sku}")
    [change] = events.of(sku)  # the rename changed no price: no event for it
    assert (change.old_price_cents, change.old_currency) == (1250, "EUR")
    assert (change.price_cents, change.currency) == (1399, "EUR")
    await _drained(db)  # and marked sent once Kafka had it


async def test_a_relay_killed_after_sending_and_before_marking_loses_nothing(
    first_gateway: GatewayProcess,
    admin: Person,
    events: CatalogEvents,
    db: asyncpg.Connection,
    folder: Path,
) -> None:
    lock = (LOCK_NAMESPACE, f"outbox:{PREFIX}")
    # Hold the relays back while the price changes are committed, so they form one batch.
    await db.execute("SELECT pg_advisory_lock($1, hashtext($2))", *lock)
    async with _shop(first_gateway, admin) as catalog:
        skus = [await catalog.add(price_cents=1000) for _ in range(5)]
        for n, sku in enumerate(skus):
            response = await catalog.client.patch(
                f"/products/{sku}", json={"price_cents": 2000 + n}, headers=catalog.admin.headers
            )
            assert response.status_code == 200, response.text
    written = await db.fetch(
        "SELECT seq, event_id FROM outbox WHERE topic = $1 AND sent_at IS NULL ORDER BY seq",
        TOPIC,
    )
    assert len(written) == 5
    # A share lock on one of the rows: the relay can read and send the batch, but its UPDATE
    # marking it sent waits, which is the moment a crash must not lose anything.
    blocker = db.transaction()
    await blocker.start()
    await db.execute("SELECT 1 FROM outbox WHERE seq = $1 FOR SHARE", written[-1]["seq"])
    await db.execute("SELECT pg_advisory_unlock($1, hashtext($2))", *lock)

    await events.until(lambda: all(events.of(sku) for sku in skus), "the batch on Kafka")
    first_gateway.process.kill()  # kill -9, mid-batch: sent, never marked
    first_gateway.process.wait(timeout=30)
    await blocker.rollback()
    assert await _unsent(db) == 5

    second = _start(folder, 2)
    try:
        await events.until(lambda: all(len(events.of(sku)) == 2 for sku in skus), "the resend")
        await _drained(db)
    finally:
        stop_gateway(second)
    # Sent again, as the same events: consumers dedupe them by event_id.
    for n, sku in enumerate(skus):
        first, again = events.of(sku)
        assert first == again
        assert (first.old_price_cents, first.price_cents) == (1000, 2000 + n)
    assert {e.event_id for e in events.seen if e.sku in skus} == {r["event_id"] for r in written}


async def test_sent_rows_past_the_retention_are_pruned_and_unsent_ones_never(
    stack_settings: Settings, db: asyncpg.Connection
) -> None:
    settings = stack_settings.model_copy(
        update={"topic_prefix": PREFIX, "outbox_retention_s": 3600.0}
    )
    pool = await asyncpg.create_pool(
        settings.database_url.get_secret_value(), min_size=1, max_size=2
    )
    try:
        async with EventPublisher(settings) as publisher:
            outbox = Outbox(pool, publisher, settings)
            ages = {
                "old sent": (timedelta(hours=2), True),
                "new sent": (timedelta(minutes=1), True),
                "old unsent": (timedelta(hours=2), False),
            }
            ids = {}
            for name, (age, sent) in ages.items():
                event = ProductPriceChanged(
                    sku=f"PRUNE-{uuid.uuid4().hex[:8]}",
                    old_price_cents=1,
                    old_currency="EUR",
                    price_cents=2,
                    currency="EUR",
                )
                async with pool.acquire() as connection:
                    await outbox.add(connection, event)
                    await connection.execute(
                        "UPDATE outbox SET created_at = now() - $2::interval,"
                        " sent_at = CASE WHEN $3 THEN now() - $2::interval END WHERE event_id = $1",
                        event.event_id,
                        age,
                        sent,
                    )
                ids[name] = event.event_id
            assert await outbox.prune() >= 1
            left = {
                row["event_id"]
                for row in await db.fetch(
                    "SELECT event_id FROM outbox WHERE event_id = ANY($1::uuid[])",
                    list(ids.values()),
                )
            }
            assert left == {ids["new sent"], ids["old unsent"]}
            await db.execute("DELETE FROM outbox WHERE event_id = $1", ids["old unsent"])
    finally:
        await pool.close()
