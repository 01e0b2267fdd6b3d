"""A Faust worker with a RocksDB table over real Kafka, restarted from an empty data folder."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from shopstream.settings import Settings

COUNTER_APP = Path(__file__).with_name("faust_counter.py")


class CounterWorker:
    """The counter app as a real worker process."""

    def __init__(self, app_id: str, tmp_path: Path) -> None:
        self.app_id = app_id
        self.tmp_path = tmp_path
        self.process: subprocess.Popen[bytes] | None = None
        self.runs = 0

    def start(self) -> None:
        self.runs += 1
        # A fresh data folder each run: the table can only come back from its changelog.
        datadir = self.tmp_path / f"data-{self.runs}"
        with (self.tmp_path / f"worker-{self.runs}.log").open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, str(COUNTER_APP), "worker", "--without-web"],
                env={**os.environ, "COUNTER_APP_ID": self.app_id, "COUNTER_DATADIR": str(datadir)},
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@pytest.fixture
def counter_worker(unique: str, tmp_path: Path) -> Iterator[CounterWorker]:
    worker = CounterWorker(f"plumbing-{unique}", tmp_path)
    yield worker
    worker.stop()


async def _create_topics(settings: Settings, names: list[str]) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    await admin.start()
    try:
        await admin.create_topics(
            [NewTopic(n, num_partitions=2, replication_factor=1) for n in names]
        )
    finally:
        await admin.close()


async def _delete_topics(settings: Settings, app_id: str) -> None:
    """The run's topics and the table's changelog: the broker stays lean across runs."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    await admin.start()
    try:
        await admin.delete_topics([n for n in await admin.list_topics() if n.startswith(app_id)])
    finally:
        await admin.close()


async def _send_words(settings: Settings, topic: str, words: list[str]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers, acks="all")
    await producer.start()
    try:
        for word in words:
            await producer.send_and_wait(topic, value=word.encode(), key=word.encode())
    finally:
        await producer.stop()


async def _read_counts_until(
    consumer: AIOKafkaConsumer, wanted: dict[str, int], seen: dict[str, int]
) -> dict[str, int]:
    async with asyncio.timeout(90):
        while any(seen.get(word) != count for word, count in wanted.items()):
            record = await consumer.getone()
            seen[record.key.decode()] = json.loads(record.value)
    return seen


async def test_table_counts_survive_a_restart_through_the_changelog(
    stack_settings: Settings, counter_worker: CounterWorker
) -> None:
    words_topic, counts_topic = f"{counter_worker.app_id}-words", f"{counter_worker.app_id}-counts"
    await _create_topics(stack_settings, [words_topic, counts_topic])
    consumer = AIOKafkaConsumer(
        counts_topic,
        bootstrap_servers=stack_settings.kafka_bootstrap_servers,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        counter_worker.start()
        await _send_words(stack_settings, words_topic, ["apple", "pear", "apple", "apple"])
        seen = await _read_counts_until(consumer, {"apple": 3, "pear": 1}, {})

        counter_worker.stop()
        counter_worker.start()
        await _send_words(stack_settings, words_topic, ["apple", "pear"])
        seen = await _read_counts_until(consumer, {"apple": 4, "pear": 2}, seen)
    finally:
        await consumer.stop()
        counter_worker.stop()
        await _delete_topics(stack_settings, counter_worker.app_id)
    assert seen == {"apple": 4, "pear": 2}
