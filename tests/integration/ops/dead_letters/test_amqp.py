"""The carrier link's dead-letter queue on the real RabbitMQ, fed by the link's own consumer."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from kombu.entity import Exchange
from kombu.message import Message
from kombu.messaging import Producer

from ops.dead_letters import commands
from ops.dead_letters.amqp import AmqpDeadLetters
from shopstream.settings import Settings
from streams.adapters import carrier_link
from streams.adapters.carrier_link import QueueConsumer, Undeliverable
from tests.integration.polling import eventually


@dataclass
class Handler:
    """Refuses "poison" until healed (a fixed bug, say); records what it handled."""

    healed: bool = False
    handled: list[bytes] = field(default_factory=list)

    def __call__(self, message: Message) -> None:
        body = carrier_link.body_of(message)
        if body == b"poison" and not self.healed:
            raise Undeliverable("poison is no reply")
        self.handled.append(body)


@pytest.fixture
def handler(isolated: Settings) -> Iterator[Handler]:
    """The reply queue consumed by the link's QueueConsumer, as the worker does."""
    handler = Handler()
    consumer = QueueConsumer(isolated, carrier_link.topology(isolated).reply_queue, handler)
    consumer.start()
    try:
        assert consumer.ready.wait(30)
        yield handler
    finally:
        consumer.stop()
        with carrier_link.connect(isolated) as connection:
            carrier_link.delete(connection, carrier_link.topology(isolated))


def _send_reply(settings: Settings, body: bytes) -> None:
    with carrier_link.connect(settings) as connection:
        producer = Producer(connection.default_channel, Exchange(""))
        queue = carrier_link.topology(settings).reply_queue
        carrier_link.publish(producer, body, queue, correlation_id="ord-x/1")


async def _holds(dead_letters: AmqpDeadLetters, count: int) -> None:
    async def check() -> bool:
        return (await dead_letters.summary()).count == count

    await eventually(check, f"{dead_letters.name} holding {count}", timeout_s=60)


async def test_a_refused_message_is_listed_with_its_reason_and_redriven_to_be_handled_once(
    isolated: Settings, handler: Handler
) -> None:
    dead_letters = AmqpDeadLetters(isolated)
    _send_reply(isolated, b"poison")
    await _holds(dead_letters, 1)
    lines: list[str] = []
    [summary] = [
        s for s in await commands.list_all(isolated, lines.append) if s.name == dead_letters.name
    ]
    assert summary.count == 1 and summary.oldest_age_s is not None
    [letter] = await commands.show(isolated, dead_letters.name, 10, lines.append)
    assert letter.reason == "poison is no reply"
    assert letter.source == carrier_link.topology(isolated).reply_queue
    assert letter.body == b"poison"
    assert (await dead_letters.summary()).count == 1  # looking took nothing

    handler.healed = True
    assert await commands.redrive(isolated, dead_letters.name, lines.append) == 1

    async def handled() -> bool:
        return handler.handled == [b"poison"]

    await eventually(handled, "the redriven message handled", timeout_s=60)
    await _holds(dead_letters, 0)


async def test_purge_empties_the_dead_letter_queue(isolated: Settings, handler: Handler) -> None:
    dead_letters = AmqpDeadLetters(isolated)
    _send_reply(isolated, b"poison")
    _send_reply(isolated, b"poison")
    await _holds(dead_letters, 2)
    said: list[str] = []
    assert await commands.purge(isolated, dead_letters.name, lambda q: True, said.append) == 2
    assert (await dead_letters.summary()).count == 0
    assert handler.handled == []
