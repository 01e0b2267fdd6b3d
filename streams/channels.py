"""The contract's topics bound to the Faust app: consuming, publishing, dead-lettering.

Records travel as the contract's JSON bytes (raw serializers): decoding is ours, so a record
that breaks the contract reaches the agent as bytes and can be dead-lettered unchanged.
Agents name topics by their contract spec; the layout gives their deployed names.

Outputs go to the app's producer directly, not through a Faust topic's ``send``: the bytes are
ready, and the topic's path (schema, future message, sensors, a callback per record) cost more
than the send itself, for every record of every batch. The producer is Faust's own, so a
batch's outputs and its tables' changelog rows share one producer and its flush before a
commit (``streams.faust_patches.DrainingProducerBuffer``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Iterable, Sequence

import faust
from faust.types import ProducerT, RecordMetadata

from shopstream import tracing
from shopstream.tracing import SpanContext
from streams import kafka_tracing
from streams.contract import EventBase, encode
from streams.topics import (
    DEAD_LETTER_REASON_HEADER,
    DEAD_LETTER_SOURCE_HEADER,
    DEAD_LETTERS,
    TOPICS,
    TopicLayout,
    TopicSpec,
    changelog_topic,
    topic_for,
)


class Channels:
    def __init__(
        self, app: faust.App, layout: TopicLayout, replicas: int, saga_app_id: str
    ) -> None:
        self.app = app
        self.layout = layout
        self.replicas = replicas
        self.saga_app_id = saga_app_id  # its tables' changelogs are named after it
        # Deployed names by contract name; the worker creates the topics before Faust starts.
        self._names = {topic.name: layout.spec(topic).name for topic in TOPICS}

    def source(self, *topics: TopicSpec, tables: Iterable[str] = ()) -> faust.TopicT:
        """One Faust topic reading from several of the contract's topics and from the
        changelogs of the saga's ``tables`` (by the read models and the notifications, in a
        group of their own: a worker reads its own tables' changelogs only to restore them)."""
        names = [
            *(self.layout.spec(topic).name for topic in topics),
            *(changelog_topic(self.saga_app_id, table) for table in tables),
        ]
        return self.app.topic(
            *names,
            key_serializer="raw",
            value_serializer="raw",
            partitions=self.layout.partitions,
            replicas=self.replicas,
            # Declared (created) by the worker on start, with these partitions; the changelogs
            # compacted (``streams.app.changelog_topics``).
            internal=True,
        )

    def changelog(self, table: str) -> faust.TopicT:
        """The changelog of one of the saga's tables, read as a stream."""
        return self.source(tables=(table,))

    async def produce(
        self,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        headers: Sequence[tuple[str, bytes]] | None = None,
    ) -> Awaitable[RecordMetadata]:
        """Hand one record to the producer (``topic``: a contract topic's name); its delivery,
        to await."""
        producer: ProducerT = await self.app.maybe_start_producer()  # started with the app
        return await producer.send(
            self._names[topic], key, value, None, None, None if headers is None else list(headers)
        )

    async def send(
        self, events: Iterable[EventBase], parent: SpanContext | None = None
    ) -> list[Awaitable[object]]:
        """Hand every event to the producer; the deliveries, to await (once, for a batch).
        Traced, each record carries its send's ``traceparent``, the send a child of ``parent``
        (the span of the record that led to it) or of the current span."""
        if tracing.on():
            return [await self._send_traced(event, parent) for event in events]
        return [
            await self.produce(topic_for(event).name, event.key.encode(), encode(event))
            for event in events
        ]

    async def _send_traced(
        self, event: EventBase, parent: SpanContext | None
    ) -> Awaitable[RecordMetadata]:
        topic = topic_for(event).name
        key, value = event.key.encode(), encode(event)
        return await kafka_tracing.sent(
            event,
            self._names[topic],
            parent,
            lambda headers: self.produce(topic, key, value, headers),
        )

    async def publish(self, events: Iterable[EventBase], parent: SpanContext | None = None) -> None:
        """Send every event to its topic and wait until Kafka has acknowledged them all."""
        for delivery in await self.send(events, parent):
            await delivery

    async def send_dead_letter(
        self, message: faust.types.Message, reason: str
    ) -> Awaitable[object]:
        """The record as it came (key, value), with why and where it came from; the
        delivery, to await."""
        source = f"{message.topic}/{message.partition}/{message.offset}"
        return await self.produce(
            DEAD_LETTERS.name,
            message.key,
            message.value,
            [
                (DEAD_LETTER_REASON_HEADER, reason.encode()),
                (DEAD_LETTER_SOURCE_HEADER, source.encode()),
            ],
        )
