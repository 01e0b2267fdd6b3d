"""Every dead-letter queue and topic of the system, found anew on each call."""

from __future__ import annotations

from ops.dead_letters.amqp import AmqpDeadLetters
from ops.dead_letters.kafka import KafkaDeadLetters
from ops.dead_letters.model import DeadLetterQueue
from ops.dead_letters.sqs import discover
from shopstream.settings import Settings


async def every_queue(settings: Settings) -> list[DeadLetterQueue]:
    queues: list[DeadLetterQueue] = [KafkaDeadLetters(settings)]
    queues += await discover(settings)
    queues.append(AmqpDeadLetters(settings))
    return queues


async def find(settings: Settings, name: str) -> DeadLetterQueue:
    """The queue called ``name`` as ``list`` shows it (``kafka/...``, ``sqs/...``, ``amqp/...``)."""
    queues = await every_queue(settings)
    for queue in queues:
        if queue.name == name:
            return queue
    known = ", ".join(queue.name for queue in queues)
    raise LookupError(f"no dead-letter queue {name!r}; there are: {known}")
