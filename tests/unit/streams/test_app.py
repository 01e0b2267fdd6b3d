"""The worker's app: its consumer group, its flow control and its producer buffer."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import cast, get_args

import pytest
from faust.transport.producer import ProducerBuffer
from faust.types.tuples import FutureMessage
from mode.utils.queues import FlowControlEvent, FlowControlQueue

from shopstream.settings import Settings, WorkerRole
from streams.agents import MODULES
from streams.app import DrainingProducerBuffer, FlowControl, app, consumer_group


def test_a_worker_that_runs_the_saga_is_in_the_sagas_group_whatever_else_it_runs() -> None:
    with_notifications = Settings(worker_app_id="shop")
    saga_alone = Settings(worker_app_id="shop", worker_roles=frozenset({"saga"}))

    assert consumer_group(with_notifications) == consumer_group(saga_alone) == "shop"


def test_a_worker_without_the_saga_is_a_group_of_its_own_named_after_its_roles() -> None:
    projector = Settings(worker_app_id="shop", worker_roles=frozenset({"projections"}))

    assert consumer_group(projector) == "shop-projections"


def test_every_worker_role_has_its_agents() -> None:
    assert set(MODULES) == set(get_args(WorkerRole))


def queue_of(flow: FlowControlEvent, *records: str) -> FlowControlQueue[str]:
    queue: FlowControlQueue[str] = FlowControlQueue(flow_control=flow, clear_on_resume=True)
    for record in records:
        queue.put_nowait(record)
    return queue


def test_resuming_a_running_flow_keeps_what_the_agents_have_queued() -> None:
    flow = FlowControl(initially_suspended=False)
    queue = queue_of(flow, "fetched before the seek")

    flow.resume()

    assert queue.get_nowait() == "fetched before the seek"


def test_resuming_a_suspended_flow_still_starts_from_empty_queues() -> None:
    flow = FlowControl(initially_suspended=False)
    queue = queue_of(flow, "fetched before the rebalance")

    flow.suspend()
    flow.resume()

    assert queue.empty()
    assert flow.is_active()


def test_fausts_own_flow_control_drops_queued_records_on_every_resume() -> None:
    # Why the worker has a flow control of its own: should Faust change this, it can go.
    flow = FlowControlEvent(initially_suspended=False)
    queue = queue_of(flow, "fetched before the seek")

    flow.resume()

    assert queue.empty()


class SlowBroker:
    """Takes each message only after ``delay`` seconds, as a busy producer may."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.published: list[str] = []

    async def publish_message(self, fut: SimpleNamespace, wait: bool) -> None:
        await asyncio.sleep(self.delay)
        self.published.append(fut.name)

    def message(self, name: str) -> FutureMessage:
        return cast(
            FutureMessage, SimpleNamespace(name=name, message=SimpleNamespace(channel=self))
        )


async def started(buffer: ProducerBuffer) -> AsyncIterator[ProducerBuffer]:
    buffer.app = app
    await buffer.start()
    try:
        yield buffer
    finally:
        await buffer.stop()


@pytest.fixture
async def draining() -> AsyncIterator[ProducerBuffer]:
    async for buffer in started(DrainingProducerBuffer()):
        yield buffer


@pytest.fixture
async def fausts_own() -> AsyncIterator[ProducerBuffer]:
    async for buffer in started(ProducerBuffer()):
        yield buffer


async def test_flush_returns_only_once_every_buffered_message_is_handed_over(
    draining: ProducerBuffer,
) -> None:
    broker = SlowBroker(delay=0.25)
    for name in ("a", "b", "c"):
        draining.put(broker.message(name))

    await draining.flush()

    assert broker.published == ["a", "b", "c"]
    assert draining.size == 0


async def test_fausts_own_flush_gives_up_with_messages_still_buffered(
    fausts_own: ProducerBuffer,
) -> None:
    # Why the worker has a buffer of its own: should Faust change this, that one can go.
    broker = SlowBroker(delay=0.25)
    for name in ("a", "b", "c"):
        fausts_own.put(broker.message(name))

    await fausts_own.flush()

    assert len(broker.published) < 3
    await asyncio.sleep(1.0)  # let it finish before the buffer stops
