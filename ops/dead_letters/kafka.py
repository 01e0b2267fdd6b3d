"""The stream agents' dead-letter topic. Records stay on the topic (it is a log); what an
operator has dealt with is tracked as a consumer group's committed offsets, so ``redrive`` and
``purge`` move that group past them and they are not shown again. A record dead-lettered again
after a redrive is a new record after the mark, and is shown again.

A record keeps its key and value unchanged; its headers say why and where from
(``<topic>/<partition>/<offset>``). Redrive republishes key and value to that topic (Kafka
acknowledges them) before the mark moves: a crash in between redrives them twice, which the
consumers' dedupe by event id makes harmless. A redriven record says where it waited
(``REDRIVEN_FROM_HEADER``): the payments agent, for one, looks a charge up before making it
again, since the first delivery may have made it.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition

from ops.dead_letters.model import DeadLetter, Summary
from shopstream.settings import Settings
from streams.topics import (
    DEAD_LETTER_REASON_HEADER,
    DEAD_LETTER_SOURCE_HEADER,
    DEAD_LETTERS,
    REDRIVEN_FROM_HEADER,
)

# How long one fetch waits for records while walking the pending range.
_FETCH_TIMEOUT_MS = 1000


class KafkaDeadLetters:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.topic = settings.topic_prefix + DEAD_LETTERS.name
        self.name = f"kafka/{self.topic}"
        self.group = settings.topic_prefix + settings.dead_letter_ops_group

    @asynccontextmanager
    async def _consumer(
        self,
    ) -> AsyncIterator[tuple[AIOKafkaConsumer, dict[TopicPartition, tuple[int, int]]]]:
        """A consumer of the topic in the operators' group, and each partition's pending range
        [committed, end) as of now."""
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.settings.kafka_bootstrap_servers,
            group_id=self.group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
        )
        await consumer.start()
        try:
            # Like every topic of the contract, it has the settings' partition count.
            partitions = (
                [TopicPartition(self.topic, p) for p in range(self.settings.topic_partitions)]
                if self.topic in await consumer.topics()
                else []
            )
            ranges: dict[TopicPartition, tuple[int, int]] = {}
            if partitions:
                consumer.assign(partitions)
                starts = await consumer.beginning_offsets(partitions)
                ends = await consumer.end_offsets(partitions)
                for partition in partitions:
                    committed = await consumer.committed(partition)
                    start = max(committed if committed is not None else 0, starts[partition])
                    ranges[partition] = (start, ends[partition])
            yield consumer, ranges
        finally:
            await consumer.stop()

    async def _pending(
        self,
        consumer: AIOKafkaConsumer,
        ranges: dict[TopicPartition, tuple[int, int]],
        limit: int | None,
    ) -> list[ConsumerRecord[bytes, bytes]]:
        records: list[ConsumerRecord[bytes, bytes]] = []
        for partition, (start, end) in ranges.items():
            if start >= end:
                continue
            consumer.seek(partition, start)
            position = start
            while position < end and (limit is None or len(records) < limit):
                batch = await consumer.getmany(partition, timeout_ms=_FETCH_TIMEOUT_MS)
                fetched = batch.get(partition, [])
                if not fetched:
                    break
                for record in fetched:
                    if record.offset < end and (limit is None or len(records) < limit):
                        records.append(record)
                    position = record.offset + 1
        return sorted(records, key=lambda record: record.timestamp)

    async def summary(self) -> Summary:
        async with self._consumer() as (consumer, ranges):
            count = sum(end - start for start, end in ranges.values())
            oldest: float | None = None
            for partition, (start, end) in ranges.items():
                if start < end:
                    consumer.seek(partition, start)
                    batch = await consumer.getmany(
                        partition, timeout_ms=_FETCH_TIMEOUT_MS, max_records=1
                    )
                    for record in batch.get(partition, []):
                        age = time.time() - record.timestamp / 1000
                        oldest = age if oldest is None else max(oldest, age)
        return Summary(self.name, count, oldest)

    async def peek(self, limit: int) -> list[DeadLetter]:
        async with self._consumer() as (consumer, ranges):
            return [_dead_letter(record) for record in await self._pending(consumer, ranges, limit)]

    async def redrive(self) -> int:
        async with self._consumer() as (consumer, ranges):
            records = await self._pending(consumer, ranges, None)
            producer = AIOKafkaProducer(
                bootstrap_servers=self.settings.kafka_bootstrap_servers,
                acks="all",
                enable_idempotence=True,
            )
            await producer.start()
            sent = 0
            try:
                for record in records:
                    target = _source_topic(record)
                    if target is None:
                        # Nowhere to send it back to: the mark stops before it (left for purge;
                        # those after it in its partition go again next time, and are deduped).
                        partition = TopicPartition(record.topic, record.partition)
                        start, end = ranges[partition]
                        ranges[partition] = (start, min(end, record.offset))
                        continue
                    waited = f"{record.topic}/{record.partition}/{record.offset}".encode()
                    await (
                        await producer.send(
                            target,
                            record.value,
                            key=record.key,
                            headers=[(REDRIVEN_FROM_HEADER, waited)],
                        )
                    )
                    sent += 1
            finally:
                await producer.stop()
            await _mark(consumer, ranges)
            return sent

    async def purge(self) -> int:
        async with self._consumer() as (consumer, ranges):
            await _mark(consumer, ranges)
            return sum(end - start for start, end in ranges.values())


async def _mark(consumer: AIOKafkaConsumer, ranges: dict[TopicPartition, tuple[int, int]]) -> None:
    """Everything up to the range ends is dealt with."""
    offsets = {partition: end for partition, (start, end) in ranges.items() if end > start}
    if offsets:
        await consumer.commit(offsets)


def _header(record: ConsumerRecord[bytes, bytes], name: str) -> str | None:
    for key, value in record.headers or ():
        if key == name:
            return bytes(value).decode("utf-8", "replace")
    return None


def _source_topic(record: ConsumerRecord[bytes, bytes]) -> str | None:
    source = _header(record, DEAD_LETTER_SOURCE_HEADER)
    return None if source is None else source.rsplit("/", 2)[0]


def _dead_letter(record: ConsumerRecord[bytes, bytes]) -> DeadLetter:
    return DeadLetter(
        id=f"{record.partition}/{record.offset}",
        reason=_header(record, DEAD_LETTER_REASON_HEADER) or "(no reason recorded)",
        source=_header(record, DEAD_LETTER_SOURCE_HEADER) or "(unknown)",
        body=record.value or b"",
        age_s=time.time() - record.timestamp / 1000,
    )
