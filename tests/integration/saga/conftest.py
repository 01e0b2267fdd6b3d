"""A real stream worker per test group, with its own topics, and an observer of everything.

``streams.testing.IsolatedWorker`` runs ``python -m streams worker`` as a process with a topic
prefix, app id and data folder of its own, so tests never meet a developer's running system.
``IsolatedCarrier`` runs the carrier simulator beside it on the same prefix: shipments go over
real AMQP. ``Observer`` reads every topic of that prefix and the worker's table changelogs from the
beginning: what the tests assert on is what went over Kafka.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from ops.order_commands import new_order
from shopstream.settings import PROJECTOR_ROLES, Settings
from streams.contract import (
    Address,
    AdjustStock,
    AnyEvent,
    ContractError,
    EventBase,
    OrderLine,
    OrderPlaced,
    OrderStatusChanged,
    decode,
)
from streams.domain.inventory import Stock
from streams.domain.order_saga import OrderState
from streams.publisher import EventPublisher, layout
from streams.testing import IsolatedCarrier, IsolatedWorker
from streams.topics import DEAD_LETTERS, ORDERS_TABLE, changelog_topic

TABLES = ("orders", "stock", "payments", "payments-unsettled", "shipments")


@dataclass(frozen=True)
class Seen:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...]


@dataclass
class Observer:
    """Everything on the worker's topics and table changelogs, as it arrives. ``states``: each
    order's latest row in the orders table, from its changelog."""

    worker: IsolatedWorker
    seen: list[Seen] = field(default_factory=list)
    states: dict[str, OrderState] = field(default_factory=dict)
    changelogs: dict[str, dict[bytes, bytes]] = field(default_factory=lambda: defaultdict(dict))
    events: dict[str, list[AnyEvent]] = field(default_factory=lambda: defaultdict(list))
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    def changelog_topic(self, table: str) -> str:
        return changelog_topic(self.worker.app_id, table)

    async def run(self) -> None:
        settings = self.worker.settings
        names = [spec.name for spec in layout(settings).topics]
        names += [self.changelog_topic(table) for table in TABLES]
        await _topics_exist(settings, names)
        consumer = AIOKafkaConsumer(
            bootstrap_servers=settings.kafka_bootstrap_servers, enable_auto_commit=False
        )
        await consumer.start()
        try:
            partitions = [
                TopicPartition(name, p) for name in names for p in range(settings.topic_partitions)
            ]
            consumer.assign(partitions)
            await consumer.seek_to_beginning()
            while True:
                batches = await consumer.getmany(timeout_ms=200)
                for records in batches.values():
                    for record in records:
                        self._record(record)
                if batches:
                    self._changed.set()
        finally:
            await consumer.stop()

    def _record(self, record: object) -> None:
        seen = Seen(
            record.topic,  # type: ignore[attr-defined]
            record.partition,  # type: ignore[attr-defined]
            record.offset,  # type: ignore[attr-defined]
            record.key,  # type: ignore[attr-defined]
            record.value,  # type: ignore[attr-defined]
            tuple(record.headers or ()),  # type: ignore[attr-defined]
        )
        self.seen.append(seen)
        prefix = self.worker.settings.topic_prefix
        if seen.topic.endswith("-changelog") and seen.key is not None and seen.value is not None:
            table = seen.topic.removeprefix(f"{self.worker.app_id}-").removesuffix("-changelog")
            self.changelogs[table][seen.key] = seen.value
            if table == ORDERS_TABLE:
                state = OrderState.model_validate_json(seen.value)
                self.states[state.order_id] = state
                # The status changes travel in the row's writes (OrderUpdate.news); refunds
                # are news too, but they are on their topic as well.
                changes = [item for item in state.news if isinstance(item, OrderStatusChanged)]
                self.events[state.order_id].extend(changes)
        elif seen.value is not None and seen.topic != prefix + DEAD_LETTERS.name:
            try:
                event = decode(seen.value)
            except ContractError:
                return
            self.events[event.key].append(event)

    async def until(
        self, condition: Callable[[], bool], timeout_s: float = 60, what: str = ""
    ) -> None:
        deadline = time.monotonic() + timeout_s
        while not condition():
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"not within {timeout_s:.0f}s: {what}"
            self._changed.clear()
            with suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), min(remaining, 1.0))

    def stock(self, sku: str) -> Stock | None:
        raw = self.changelogs["stock"].get(sku.encode())
        return None if raw is None else Stock.model_validate_json(raw)

    def events_of(self, order_id: str, kind: type[EventBase]) -> list[EventBase]:
        return [event for event in self.events[order_id] if isinstance(event, kind)]

    def status(self, order_id: str) -> str | None:
        state = self.states.get(order_id)
        return None if state is None else str(state.status)


async def _topics_exist(settings: Settings, names: list[str], timeout_s: float = 60) -> None:
    """The worker declares its changelogs as it starts; read them only once they are there."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    await admin.start()
    try:
        deadline = time.monotonic() + timeout_s
        while missing := set(names) - set(await admin.list_topics()):
            assert time.monotonic() < deadline, f"topics never declared: {sorted(missing)}"
            await asyncio.sleep(0.2)
    finally:
        await admin.close()


@dataclass
class Saga:
    """A running worker, its observer and a publisher: what the journeys drive."""

    worker: IsolatedWorker
    projector: IsolatedWorker
    observer: Observer
    publisher: EventPublisher
    carrier: IsolatedCarrier

    @property
    def settings(self) -> Settings:
        return self.worker.settings

    async def publish(self, *events: EventBase) -> None:
        await self.publisher.publish(events)

    async def stock_up(self, sku: str, on_hand: int) -> None:
        await self.publish(AdjustStock(sku=sku, set_to=on_hand))
        await self.observer.until(
            lambda: (stock := self.observer.stock(sku)) is not None and stock.on_hand == on_hand,
            what=f"stock of {sku} set to {on_hand}",
        )

    async def place(
        self, lines: Iterable[tuple[str, int]], card: str = "tok_visa", postal_code: str = "10115"
    ) -> OrderPlaced:
        order = self.order(lines, card, postal_code)
        await self.publish(order)
        return order

    def order(
        self, lines: Iterable[tuple[str, int]], card: str = "tok_visa", postal_code: str = "10115"
    ) -> OrderPlaced:
        """An order, not placed yet."""
        address = Address(
            name="Grace Hopper",
            line1="1 Test Street",
            city="Berlin",
            postal_code=postal_code,
            country="DE",
        )
        return new_order(
            [
                OrderLine(sku=sku, quantity=quantity, unit_price_cents=1000)
                for sku, quantity in lines
            ],
            card,
            user_id="saga-test",
            address=address,
        )

    async def reaches(self, order_id: str, *statuses: str, timeout_s: float = 60) -> None:
        await self.observer.until(
            lambda: self.observer.status(order_id) in statuses,
            timeout_s,
            f"{order_id} in {statuses} (is {self.observer.status(order_id)})",
        )

    async def committed_offsets_reach(
        self, ends: dict[TopicPartition, int], timeout_s: float = 60
    ) -> None:
        """Wait until the worker's group has committed past these offsets, on the partitions
        it consumes (a topic no agent reads, such as inventory.adjustments, is never committed)."""
        admin = AIOKafkaAdminClient(bootstrap_servers=self.settings.kafka_bootstrap_servers)
        await admin.start()
        try:
            deadline = time.monotonic() + timeout_s
            while True:
                committed = await admin.list_consumer_group_offsets(self.worker.app_id)
                if all(
                    committed[partition].offset >= end
                    for partition, end in ends.items()
                    if partition in committed
                ):
                    return
                assert time.monotonic() < deadline, "the worker did not commit past the records"
                await asyncio.sleep(0.3)
        finally:
            await admin.close()


@asynccontextmanager
async def running_saga(settings: Settings, tmp_path: Path, **overrides: str) -> AsyncIterator[Saga]:
    """A worker of the saga, a projector beside it for the read models and the notifications,
    and the carrier simulator: as the local stack runs them."""
    # A short backoff and reply timeout: the carrier simulator fails on purpose in some journeys
    # (and loses replies in others); deliveries are reported soon after dispatch.
    timing = {
        "SHOPSTREAM_SHIPPING_RETRY_BACKOFF_S": "0.05",
        "SHOPSTREAM_CARRIER_REPLY_TIMEOUT_S": "2",
        "SHOPSTREAM_CARRIER_OVERDUE_CHECK_INTERVAL_S": "0.5",
        "SHOPSTREAM_CARRIER_DELIVERY_DELAY_S": "0.3",
    }
    worker = IsolatedWorker(settings, tmp_path, "saga-test", **(timing | overrides))
    projector = worker.beside(PROJECTOR_ROLES)
    carrier = IsolatedCarrier(worker, **(timing | overrides))
    publisher = EventPublisher(worker.settings)
    await publisher.start()  # declares this run's topics
    worker.start()
    projector.start()
    carrier.start()
    observer = Observer(worker)
    watching: asyncio.Task[None] | None = None
    try:
        await worker.wait_web()
        await projector.wait_web()
        await carrier.wait_ready()
        watching = asyncio.create_task(observer.run())
        saga = Saga(worker, projector, observer, publisher, carrier)
        # Consuming starts once the group has assigned partitions: a stocktake proves it.
        await saga.stock_up(f"probe-{uuid.uuid4().hex[:6]}", 1)
        yield saga
    finally:
        if watching is not None:
            watching.cancel()
        await publisher.stop()
        worker.stop()
        projector.stop()
        carrier.stop()
        await worker.delete_topics()
        carrier.delete_queues()


@pytest.fixture(scope="module")
async def saga(
    stack_settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Saga]:
    async with running_saga(stack_settings, tmp_path_factory.mktemp("saga")) as running:
        yield running


@pytest.fixture
def sku() -> str:
    """A SKU of the test's own, so tests sharing a worker never share stock."""
    return f"SKU-{uuid.uuid4().hex[:8]}"
