"""Publishing the contract's records from outside the workers (gateways, command line).

``publish`` returns once Kafka has acknowledged every record (acks=all, idempotent producer):
that is the moment an order may be confirmed to its customer.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from types import TracebackType
from typing import Self

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from shopstream.settings import Settings
from streams.contract import EventBase, encode
from streams.topics import TopicLayout


def layout(settings: Settings) -> TopicLayout:
    return TopicLayout(partitions=settings.topic_partitions, prefix=settings.topic_prefix)


async def ensure_topics(settings: Settings) -> None:
    """Create the contract's topics that do not exist yet (the worker declares them too)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [
            NewTopic(
                spec.name,
                num_partitions=spec.partitions,
                replication_factor=settings.topic_replication_factor,
                topic_configs={"cleanup.policy": "compact"} if spec.compacted else {},
            )
            for spec in layout(settings).topics
            if spec.name not in existing
        ]
        if missing:
            with contextlib.suppress(TopicAlreadyExistsError):  # another process was first
                await admin.create_topics(missing)
    finally:
        await admin.close()


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
        pending = [
            await self.producer.send(
                self.layout.for_event(event).name, encode(event), key=event.key.encode()
            )
            for event in events
        ]
        for delivery in pending:
            await delivery

    async def publish_encoded(self, records: Iterable[tuple[str, bytes, bytes]]) -> None:
        """Send records already encoded, as ``(topic, key, value)``; return once Kafka has them
        all. For records whose topic was decided when they were written (an outbox row)."""
        pending = [await self.producer.send(topic, value, key=key) for topic, key, value in records]
        for delivery in pending:
            await delivery
