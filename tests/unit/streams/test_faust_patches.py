"""Where Faust's behaviour is changed: each patch proves the change, and that Faust's own
behaviour still needs it; the pins say when to look again."""

from __future__ import annotations

import asyncio
import inspect
import re
from collections.abc import AsyncIterator
from importlib.metadata import version
from types import SimpleNamespace
from typing import cast

import faust
import pytest
from faust.transport.drivers import aiokafka as aiokafka_driver
from faust.transport.producer import ProducerBuffer
from faust.types.tuples import FutureMessage
from mode.utils.queues import FlowControlEvent, FlowControlQueue

from streams import faust_patches
from streams.app import app
from streams.faust_patches import (
    PATCHES,
    PINNED,
    Consumer,
    DrainingProducerBuffer,
    FlowControl,
    IdempotentProducer,
    Patch,
    use_patched_transport,
)


@pytest.mark.parametrize("package", sorted(PINNED))
def test_the_patches_were_checked_against_the_installed_version_of_each_pinned_package(
    package: str,
) -> None:
    # A new version may have fixed, moved or broken what a patch overrides.
    installed, pinned = version(package), PINNED[package]
    patches = ", ".join(dict.fromkeys(patch.name for patch in PATCHES))
    assert installed == pinned, (
        f"{package} {installed} is installed, but the patches were checked against {pinned}: "
        f"re-check each patch listed in streams/faust_patches.py ({patches}) against "
        f"{package} {installed}, then move its pin in PINNED"
    )


def upstream_has(cls: type, attribute: str) -> bool:
    """Whether ``cls`` has ``attribute``: on the class or a base, declared in an annotation, or
    given to each instance (``self.attribute = ...`` in the source of the class or a base)."""
    if hasattr(cls, attribute):
        return True
    assigned = re.compile(rf"\bself\.{re.escape(attribute)}\s*(:[^=]*)?=[^=]")
    for base in cls.__mro__:
        if attribute in vars(base).get("__annotations__", {}):
            return True
        try:
            if assigned.search(inspect.getsource(base)):
                return True
        except (OSError, TypeError):  # built in, or no source to read
            continue
    return False


@pytest.mark.parametrize(
    ("patch", "attribute"),
    [(patch, attribute) for patch in PATCHES for attribute in patch.attributes],
    ids=lambda value: value.name if isinstance(value, Patch) else value,
)
def test_every_upstream_attribute_a_patch_overrides_or_relies_on_still_exists(
    patch: Patch, attribute: str
) -> None:
    upstream = f"{patch.upstream.__module__}.{patch.upstream.__qualname__}"
    assert upstream_has(patch.upstream, attribute), (
        f"{upstream} has no {attribute!r} any more: {patch.name} in streams/faust_patches.py "
        "overrides or relies on it; re-check the patch against the installed version"
    )


def test_every_patch_in_the_module_is_listed_with_what_it_depends_on() -> None:
    # A patch missing from PATCHES would escape the check above.
    defined = {
        name
        for name, value in vars(faust_patches).items()
        if (inspect.isclass(value) or inspect.isfunction(value))
        and value.__module__ == faust_patches.__name__
        and value is not Patch
    }

    assert defined == {patch.name for patch in PATCHES}


def test_the_patched_transport_makes_our_producer_and_consumer_for_its_app_alone() -> None:
    patched = faust.App("patched", broker="kafka://127.0.0.1:9")
    untouched = faust.App("untouched", broker="kafka://127.0.0.1:9")

    use_patched_transport(patched)

    assert patched.transport.Producer is IdempotentProducer
    assert patched.transport.Consumer is Consumer
    assert untouched.transport.Producer is aiokafka_driver.Producer
    assert untouched.transport.Consumer is aiokafka_driver.Consumer


def test_the_worker_app_uses_the_patched_transport() -> None:
    assert app.transport.Producer is IdempotentProducer
    assert app.transport.Consumer is Consumer


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
