"""The carrier link's dead-letter queue on RabbitMQ (Amazon MQ).

A message lands there with why and from which queue in its headers (see
``streams.adapters.carrier_link.dead_letter``). Looking is taking without acknowledging: the
channel's close hands every message back, in its place. Redrive publishes each one to the queue
it came from (through the default exchange, confirmed) before acknowledging it here.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from kombu.connection import Connection
from kombu.entity import Exchange
from kombu.message import Message
from kombu.messaging import Producer

from ops.dead_letters.model import DeadLetter, Summary
from shopstream.settings import Settings
from streams.adapters import carrier_link
from streams.carrier_topology import DEAD_LETTER_REASON_HEADER, DEAD_LETTER_SOURCE_HEADER


class AmqpDeadLetters:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.names = carrier_link.topology(settings)
        self.queue = self.names.dead_letter_queue
        self.name = f"amqp/{self.queue}"

    def _connect(self) -> Connection:
        return carrier_link.connect(self.settings)

    def _count(self, channel: Any) -> int:
        return int(channel.queue_declare(self.queue, passive=True).message_count)

    def _exists(self, connection: Connection) -> bool:
        """Looking must not create it (the link's processes declare it)."""
        channel = connection.channel()
        try:
            channel.queue_declare(self.queue, passive=True)
        except connection.channel_errors:  # NOT_FOUND; the broker closed that channel
            return False
        channel.close()
        return True

    def _summary(self) -> Summary:
        with self._connect() as connection:
            if not self._exists(connection):
                return Summary(self.name, 0, None)
            channel = connection.channel()
            try:
                count = self._count(channel)
                first = channel.basic_get(self.queue, no_ack=False) if count else None
                oldest = _age(first) if first is not None else None
            finally:
                channel.close()  # hands the message looked at back
        return Summary(self.name, count, oldest)

    def _peek(self, limit: int) -> list[DeadLetter]:
        letters: list[DeadLetter] = []
        with self._connect() as connection:
            if not self._exists(connection):
                return letters
            channel = connection.channel()
            try:
                while len(letters) < limit:
                    raw = channel.basic_get(self.queue, no_ack=False)
                    if raw is None:
                        break
                    letters.append(_dead_letter(channel.message_to_python(raw)))
            finally:
                channel.close()
        return letters

    def _redrive(self) -> int:
        moved = 0
        with self._connect() as connection:
            if not self._exists(connection):
                return moved
            producer = Producer(connection.default_channel, Exchange(""))
            channel = connection.channel()
            try:
                for _ in range(self._count(channel)):  # not those dead-lettered meanwhile
                    raw = channel.basic_get(self.queue, no_ack=False)
                    if raw is None:
                        break
                    message = channel.message_to_python(raw)
                    headers = {
                        key: value
                        for key, value in (message.headers or {}).items()
                        if key not in (DEAD_LETTER_REASON_HEADER, DEAD_LETTER_SOURCE_HEADER)
                    }
                    source = (message.headers or {}).get(DEAD_LETTER_SOURCE_HEADER)
                    if not source:
                        message.reject(requeue=True)
                        continue
                    carrier_link.publish(
                        producer,
                        carrier_link.body_of(message),
                        str(source),
                        correlation_id=message.properties.get("correlation_id") or "",
                        headers=headers,
                    )
                    message.ack()
                    moved += 1
            finally:
                channel.close()
        return moved

    def _purge(self) -> int:
        with self._connect() as connection:
            if not self._exists(connection):
                return 0
            return int(connection.default_channel.queue_purge(self.queue) or 0)

    async def summary(self) -> Summary:
        return await asyncio.to_thread(self._summary)

    async def peek(self, limit: int) -> list[DeadLetter]:
        return await asyncio.to_thread(self._peek, limit)

    async def redrive(self) -> int:
        return await asyncio.to_thread(self._redrive)

    async def purge(self) -> int:
        return await asyncio.to_thread(self._purge)


def _age(raw: Any) -> float | None:
    stamp = raw.properties.get("timestamp")
    if stamp is None:
        return None
    seconds = stamp.timestamp() if hasattr(stamp, "timestamp") else float(stamp)
    return time.time() - seconds


def _dead_letter(message: Message) -> DeadLetter:
    headers = message.headers or {}
    return DeadLetter(
        id=str(message.delivery_tag),
        reason=str(headers.get(DEAD_LETTER_REASON_HEADER, "(no reason recorded)")),
        source=str(headers.get(DEAD_LETTER_SOURCE_HEADER, "(unknown)")),
        body=carrier_link.body_of(message),
        age_s=_age(message),
    )
