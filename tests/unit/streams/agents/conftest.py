"""The agents under Faust's test context: records put in memory, outputs caught in memory.

No broker here (the integration tests have one): the app's tables use Faust's in-memory
store, and every topic the agents send to is swapped for an in-memory channel, so a test can
read back what an agent emitted, in the order it emitted it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Sequence

import faust
import pytest
from faust.types import RecordMetadata
from faust.types.agents import AgentTestWrapperT
from prometheus_client import REGISTRY
from yarl import URL

from streams.agents import MODULES, register
from streams.app import app, channels
from streams.contract import AnyEvent, decode, encode
from streams.topics import DEAD_LETTER_REASON_HEADER, DEAD_LETTERS, TOPICS, TopicSpec

register(MODULES)  # every agent and its table, as in a worker of every role


class Sent:
    """What the agents sent, by contract topic: raw records, or decoded events."""

    def __init__(self) -> None:
        self.channels = {
            topic.name: app.channel(
                schema=faust.Schema(key_serializer="raw", value_serializer="raw")
            )
            for topic in TOPICS
        }
        # A channel hands what is sent to its subscribers only; these read everything.
        self._readers = {
            name: channel.clone(is_iterator=True) for name, channel in self.channels.items()
        }
        self._seen: dict[str, list[faust.EventT[bytes]]] = {name: [] for name in self.channels}

    async def produce(
        self,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        headers: Sequence[tuple[str, bytes]] | None = None,
    ) -> Awaitable[RecordMetadata]:
        """``Channels.produce``, to the topic's in-memory channel."""
        return await self.channels[topic].send(
            key=key, value=value, headers=None if headers is None else list(headers)
        )

    def records(self, topic: TopicSpec) -> list[faust.EventT[bytes]]:
        queue = self._readers[topic.name].queue
        while not queue.empty():
            self._seen[topic.name].append(queue.get_nowait())
        return list(self._seen[topic.name])

    async def wait_for(self, topic: TopicSpec, count: int, timeout_s: float = 5.0) -> None:
        """Until ``count`` records were sent to ``topic`` (for agents that do not yield)."""
        seen = self._seen[topic.name]
        self.records(topic)  # what is there already
        while len(seen) < count:
            seen.append(await self._readers[topic.name].get(timeout=timeout_s))

    def events(self, topic: TopicSpec) -> list[AnyEvent]:
        return [decode(record.value) for record in self.records(topic)]

    def dead_letters(self) -> list[faust.EventT[bytes]]:
        return self.records(DEAD_LETTERS)


@pytest.fixture(scope="session", autouse=True)
def in_memory_tables() -> None:
    # Set before any table opens its store; stores are created on first use.
    app.finalize()
    app.conf.store = URL("memory://")


@pytest.fixture(autouse=True)
def empty_tables() -> None:
    for table in app.tables.values():
        table.data.clear()


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> Sent:
    caught = Sent()
    monkeypatch.setattr(channels, "produce", caught.produce)
    return caught


async def put(agent: AgentTestWrapperT, event: AnyEvent) -> str:
    """Send ``event`` (as its contract bytes, keyed like its topic) through ``agent``; return
    what became of it (``applied``, ``duplicate``, ``dead_lettered``) once it is handled."""
    await agent.put(encode(event), key=event.key.encode())
    result = agent.results[agent.processed_offset - 1]
    assert isinstance(result, str)
    return result


async def until_processed(agent: AgentTestWrapperT, count: int, timeout_s: float = 5.0) -> None:
    """Until the agent has yielded a result for ``count`` records (put with ``wait=False``)."""
    processed = agent.new_value_processed  # notified at every result
    async with asyncio.timeout(timeout_s), processed:
        await processed.wait_for(lambda: agent.processed_offset >= count)


def batch_count(agent: str) -> float:
    """Batches the agent has applied in this process so far, from its metric."""
    value = REGISTRY.get_sample_value("shopstream_stream_batch_records_count", {"agent": agent})
    return value or 0.0


def reason_of(dead_letter: faust.EventT[bytes]) -> str:
    reason: bytes = dict(dead_letter.headers or {})[DEAD_LETTER_REASON_HEADER]
    return reason.decode()
