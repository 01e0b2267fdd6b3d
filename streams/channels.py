"""The contract's topics bound to the Faust app: consuming, publishing, dead-lettering.

Records travel as the contract's JSON bytes (raw serializers): decoding is ours, so a record
that breaks the contract reaches the agent as bytes and can be dead-lettered unchanged.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

import faust

from streams.contract import EventBase, encode
from streams.topics import (
    DEAD_LETTER_REASON_HEADER,
    DEAD_LETTER_SOURCE_HEADER,
    DEAD_LETTERS,
    TOPICS,
    TopicSpec,
    topic_for,
    with_partitions,
)


class Channels:
    def __init__(self, app: faust.App, partitions: int, replicas: int) -> None:
        self.app = app
        self.specs = {spec.name: spec for spec in with_partitions(partitions, TOPICS)}
        self.replicas = replicas
        self._topics = {name: self._bind(name) for name in self.specs}

    def _bind(self, *names: str) -> faust.TopicT:
        spec = self.specs[names[0]]
        return self.app.topic(
            *names,
            key_serializer="raw",
            value_serializer="raw",
            partitions=spec.partitions,
            replicas=self.replicas,
            # Declared (created) by the worker on start, with these partitions.
            internal=True,
        )

    def source(self, *specs: TopicSpec) -> faust.TopicT:
        """One Faust topic reading from several of the contract's topics."""
        return self._bind(*(spec.name for spec in specs))

    def topic(self, spec: TopicSpec) -> faust.TopicT:
        return self._topics[spec.name]

    async def publish(self, events: Iterable[EventBase]) -> None:
        """Send every event to its topic and wait until Kafka has acknowledged them all."""
        pending = [
            await self._topics[topic_for(event).name].send(
                key=event.key.encode(), value=encode(event), force=True
            )
            for event in events
        ]
        if pending:
            await asyncio.gather(*pending)

    async def dead_letter(self, message: faust.types.Message, reason: str) -> None:
        """The record as it came (key, value), with why and where it came from."""
        source = f"{message.topic}/{message.partition}/{message.offset}"
        delivered = await self._topics[DEAD_LETTERS.name].send(
            key=message.key,
            value=message.value,
            headers=[
                (DEAD_LETTER_REASON_HEADER, reason.encode()),
                (DEAD_LETTER_SOURCE_HEADER, source.encode()),
            ],
            force=True,
        )
        await delivered
