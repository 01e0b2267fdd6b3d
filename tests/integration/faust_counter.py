"""A minimal Faust app for the plumbing test: counts words in a RocksDB-backed table.

Run as a worker process by the test (``python faust_counter.py worker``); the app id, data
folder and topics come from the environment so each test run is isolated.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import faust

from shopstream.logs import logging_config
from shopstream.settings import get_settings

settings = get_settings()
APP_ID = os.environ["COUNTER_APP_ID"]

app = faust.App(
    APP_ID,
    broker=f"kafka://{settings.kafka_bootstrap_servers}",
    store="rocksdb://",
    datadir=os.environ["COUNTER_DATADIR"],
    processing_guarantee="at_least_once",
    topic_partitions=2,
    topic_replication_factor=1,
    web_enabled=False,
    logging_config=logging_config("WARNING"),
)
words = app.topic(f"{APP_ID}-words", key_serializer="raw", value_serializer="raw")
counts_out = app.topic(f"{APP_ID}-counts", key_serializer="raw", value_serializer="json")
counts = app.Table("counts", default=int, partitions=2)


@app.agent(words)
async def count_words(stream: faust.StreamT[bytes]) -> AsyncIterator[None]:
    async for event in stream.events():
        word = event.key.decode()
        counts[word] += 1
        await counts_out.send(key=event.key, value=counts[word])
        yield None


if __name__ == "__main__":
    app.main()
