"""Publishing the contract's records from outside the workers (gateways, command line).

``publish`` returns once Kafka has acknowledged every record (acks=all, idempotent producer):
that is the moment an order may be confirmed to its customer.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Iterable, Sequence
from types import TracebackType
from typing import Self

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from shopstream import tracing
from shopstream.settings import Settings
from streams import kafka_tracing
from streams.contract import EventBase, encode
from streams.topics import TopicLayout, TopicSpec


def layout(settings: Settings) -> TopicLayout:
    return TopicLayout(partitions=settings.topic_partitions, prefix=settings.topic_prefix)


async def ensure_topics(settings: Settings, extra: Iterable[TopicSpec] = ()) -> None:
    """Create the contract's topics (and ``extra`` ones) that do not exist yet.

    Returns once the broker's metadata shows every partition of each with a leader: a Faust
    worker that starts while a new topic's metadata still lags its creation counts 0
    partitions and stops with PartitionsMismatch.
    """
    specs = [*layout(settings).topics, *extra]
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [
            NewTopic(
                spec.name,
                num_partitions=spec.partitions,
                replication_factor=settings.topic_replication_factor,
                topic_configs=_compaction(settings) if spec.compacted else {},
            )
            for spec in specs
            if spec.name not in existing
        ]
        if missing:
            with contextlib.suppress(TopicAlreadyExistsError):  # another process was first
                await admin.create_topics(missing)
        await _wait_for_leaders(admin, specs, settings.start_timeout_s)
    finally:
        await admin.close()


def _compaction(settings: Settings) -> dict[str, str]:
    """A compacted topic keeps each key's latest record, but only once a record is older than
    the lag: a follower that fell behind (the notifications, the read models) still reads
    every write of a table, the news each carries included."""
    lag_ms = int(settings.changelog_min_compaction_lag_s * 1000)
    return {"cleanup.policy": "compact", "min.compaction.lag.ms": str(lag_ms)}


async def _wait_for_leaders(
    admin: AIOKafkaAdminClient, specs: Sequence[TopicSpec], timeout_s: float
) -> None:
    expected = {spec.name: spec.partitions for spec in specs}
    deadline = time.monotonic() + timeout_s
    while True:
        lagging = dict(expected)
        for topic in await admin.describe_topics(list(expected)):
            partitions = topic.get("partitions") or []
            complete = len(partitions) >= expected.get(topic["topic"], 0)
            led = all(partition.get("leader", -1) >= 0 for partition in partitions)
            if topic.get("error_code") == 0 and complete and led:
                lagging.pop(topic["topic"], None)
        if not lagging:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"topics without a leader for every partition after {timeout_s:.0f}s: "
                + ", ".join(sorted(lagging))
            )
        await asyncio.sleep(0.1)


class EventPublisher:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.layout = layout(settings)
        self.producer = AIOKafkaProducer(
            bootstrap_servers=settings.kafka_bootstrap_servers,
            acks="all",
            enable_idempotence=True,
            linger_ms=1,
        )

    async def start(self) -> None:
        await ensure_topics(self.settings)
        await self.producer.start()

    async def stop(self) -> None:
        await self.producer.stop()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def publish(self, events: Iterable[EventBase]) -> None:
        """Traced, each record carries the ``traceparent`` of its send, a child of the current
        span (a request's) if that is of the event's trace."""
        if tracing.on():
            pending = [await self._send_traced(event) for event in events]
        else:
            pending = [
                await self.producer.send(
                    self.layout.for_event(event).name, encode(event), key=event.key.encode()
                )
                for event in events
            ]
        for delivery in pending:
            await delivery

    async def _send_traced(self, event: EventBase) -> Awaitable[object]:
        topic = self.layout.for_event(event).name
        value, key = encode(event), event.key.encode()
        sent: Awaitable[object] = await kafka_tracing.sent(
            event,
            topic,
            None,
            lambda headers: self.producer.send(topic, value, key=key, headers=headers),
        )
        return sent

    async def publish_encoded(self, records: Iterable[tuple[str, bytes, bytes]]) -> None:
        """Send records already encoded, as ``(topic, key, value)``; return once Kafka has them
        all. For records whose topic was decided when they were written (an outbox row)."""
        pending = [await self.producer.send(topic, value, key=key) for topic, key, value in records]
        for delivery in pending:
            await delivery
