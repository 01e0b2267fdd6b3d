"""The carrier link's AMQP names: one exchange, the queues bound to it, and their routing keys.
No kombu here: the shipping side, the carrier simulator and the operator's declarations
(``k8s/messaging/``) all read the same names, so they cannot drift apart.

    request      shipping ─(exchange carrier, key shipment.request)─> carrier.shipment-requests
    reply        carrier  ─(reply_to, i.e. the reply queue)─────────> shipping.carrier-replies
    dead letter  either   ─(exchange carrier, key dead-letter)──────> carrier.dead-letters

Every message is persistent and its correlation id is ``<order_id>/<attempt>``. A message a
consumer cannot use is published to the dead-letter queue unchanged, with why and where it came
from in the headers below, then acknowledged. Deployed names carry the settings' prefix, like
the Kafka topics (``Settings.topic_prefix``), so a test run never meets a developer's system.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

EXCHANGE: Final = "carrier"
EXCHANGE_TYPE: Final = "direct"
REQUEST_KEY: Final = "shipment.request"
REPLY_KEY: Final = "shipment.reply"
DEAD_LETTER_KEY: Final = "dead-letter"

REQUEST_QUEUE: Final = "carrier.shipment-requests"
REPLY_QUEUE: Final = "shipping.carrier-replies"
DEAD_LETTER_QUEUE: Final = "carrier.dead-letters"

# Quorum queues: replicated on Amazon MQ's cluster deployments, and they count redeliveries.
QUEUE_ARGUMENTS: Final[dict[str, object]] = {"x-queue-type": "quorum"}

DEAD_LETTER_REASON_HEADER: Final = "x-dead-letter-reason"
# The queue it was consumed from, where a redrive sends it back (through the default exchange).
DEAD_LETTER_SOURCE_HEADER: Final = "x-dead-letter-source"


def correlation_id(order_id: str, attempt: int) -> str:
    return f"{order_id}/{attempt}"


@dataclass(frozen=True, slots=True)
class CarrierTopology:
    """The names as deployed, with the prefix."""

    prefix: str = ""

    @property
    def exchange(self) -> str:
        return self.prefix + EXCHANGE

    @property
    def request_queue(self) -> str:
        return self.prefix + REQUEST_QUEUE

    @property
    def reply_queue(self) -> str:
        return self.prefix + REPLY_QUEUE

    @property
    def dead_letter_queue(self) -> str:
        return self.prefix + DEAD_LETTER_QUEUE

    @property
    def queues(self) -> tuple[str, ...]:
        return tuple(queue for queue, _ in self.bindings)

    @property
    def bindings(self) -> tuple[tuple[str, str], ...]:
        """(queue, routing key) pairs bound to the exchange."""
        return (
            (self.request_queue, REQUEST_KEY),
            (self.reply_queue, REPLY_KEY),
            (self.dead_letter_queue, DEAD_LETTER_KEY),
        )
