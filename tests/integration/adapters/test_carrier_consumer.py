"""The carrier link's consumer on the real RabbitMQ, with a handler that hands messages on (as
the shipping side hands replies to Kafka): many under way at once, each acknowledged when its
future is done, and requeued when it fails."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field

import pytest
from kombu.entity import Exchange
from kombu.message import Message
from kombu.messaging import Producer
from prometheus_client import REGISTRY

from shopstream.settings import Settings
from streams.adapters import carrier_link
from streams.adapters.carrier_link import QueueConsumer
from tests.integration.polling import eventually

pytestmark = pytest.mark.stack


@dataclass
class HandingOn:
    """Hands every message on; the test settles the futures."""

    handed: list[tuple[bytes, Future[object]]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, message: Message) -> Future[object]:
        future: Future[object] = Future()
        with self.lock:
            self.handed.append((carrier_link.body_of(message), future))
        return future

    def bodies(self) -> list[bytes]:
        with self.lock:
            return [body for body, _ in self.handed]


@pytest.fixture
def link(stack_settings: Settings) -> Iterator[tuple[Settings, HandingOn, QueueConsumer]]:
    settings = stack_settings.model_copy(update={"topic_prefix": f"link-{uuid.uuid4().hex[:8]}-"})
    handler = HandingOn()
    consumer = QueueConsumer(settings, carrier_link.topology(settings).reply_queue, handler)
    consumer.start()
    try:
        assert consumer.ready.wait(30)
        yield settings, handler, consumer
    finally:
        consumer.stop()
        with carrier_link.connect(settings) as connection:
            carrier_link.delete(connection, carrier_link.topology(settings))


def send(settings: Settings, *bodies: bytes) -> None:
    with carrier_link.connect(settings) as connection:
        producer = Producer(connection.default_channel, Exchange(""))
        queue = carrier_link.topology(settings).reply_queue
        for body in bodies:
            carrier_link.publish(producer, body, queue, correlation_id="ord-x/1")


def handled(consumer: QueueConsumer) -> float:
    value = REGISTRY.get_sample_value(
        "shopstream_carrier_messages_total", {"queue": consumer.label, "outcome": "handled"}
    )
    return value or 0.0


async def test_messages_handed_on_are_under_way_together_and_acknowledged_when_done(
    link: tuple[Settings, HandingOn, QueueConsumer],
) -> None:
    settings, handler, consumer = link
    before = handled(consumer)
    bodies = [f"reply-{n}".encode() for n in range(5)]
    send(settings, *bodies)

    async def all_handed_on() -> bool:
        return handler.bodies() == bodies

    # None is done yet, and still all five reached the handler: nobody waited for one.
    await eventually(all_handed_on, "five messages handed on at once")
    assert handled(consumer) == before
    for _, future in handler.handed:
        future.set_result(None)

    async def all_acknowledged() -> bool:
        return handled(consumer) == before + len(bodies)

    await eventually(all_acknowledged, "every message acknowledged once its future is done")


async def test_a_message_whose_hand_on_failed_comes_back(
    link: tuple[Settings, HandingOn, QueueConsumer],
) -> None:
    settings, handler, _ = link
    send(settings, b"reply")

    async def handed_on() -> bool:
        return handler.bodies() == [b"reply"]

    await eventually(handed_on, "the message handed on")
    handler.handed[0][1].set_exception(ConnectionError("Kafka away"))

    async def back_again() -> bool:
        return handler.bodies() == [b"reply", b"reply"]

    await eventually(back_again, "the message redelivered after the failure", timeout_s=30)
