"""The simulator's AMQP side: consume shipment requests, publish the rules' answers.

Replies go to the request's ``reply_to`` queue through the default exchange (AMQP's RPC
convention), persistent and confirmed, before the request is acknowledged. A delivery reported
later waits in a hold queue of the broker's own: its messages expire after the delay and are
dead-lettered into the reply queue, so a pending delivery survives a restart of the simulator.
"""

from __future__ import annotations

from kombu.entity import Exchange, Queue
from kombu.message import Message
from kombu.messaging import Producer
from pydantic import ValidationError

from shopstream import tracing
from shopstream.logs import get_logger
from shopstream.metrics import CARRIER_MESSAGES
from shopstream.settings import Settings
from shopstream.tracing import SpanKind
from streams.adapters.carrier_link import (
    TRACEPARENT_HEADER,
    QueueConsumer,
    Undeliverable,
    body_of,
    hold_queue_name,
    publish,
    topology,
)
from streams.adapters.carrier_messages import CarrierReply, ShipmentOrder
from streams.carrier_simulator.rules import answer
from streams.carrier_topology import REQUEST_QUEUE, correlation_id

log = get_logger(__name__)

DEFAULT_EXCHANGE = Exchange("")


def hold_queue(reply_to: str) -> Queue:
    return Queue(
        hold_queue_name(reply_to),
        durable=True,
        queue_arguments={"x-dead-letter-exchange": "", "x-dead-letter-routing-key": reply_to},
    )


class CarrierSimulator:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.consumer = QueueConsumer(settings, topology(settings).request_queue, self.handle)
        # Requests seen so far (correlation ids): what "the first reply" means. Kept in memory:
        # a restarted simulator loses one more first reply, which the link tolerates anyway.
        self.seen: set[str] = set()
        self._holds: set[str] = set()

    def handle(self, message: Message) -> None:
        try:
            order = ShipmentOrder.model_validate_json(body_of(message))
        except ValidationError as error:
            raise Undeliverable(
                f"not a shipment order: {error.errors(include_url=False)}"
            ) from error
        reply_to = message.properties.get("reply_to")
        if not reply_to:
            raise Undeliverable("a shipment order without reply_to")
        given = message.headers or {}
        trace = {"trace_id": given.get("trace_id", "")}
        # Traced, the handling continues the request's trace (the child of its publish), and
        # the replies carry it back.
        with tracing.span(
            f"carrier handle {REQUEST_QUEUE}",
            str(trace["trace_id"]),
            kind=SpanKind.CONSUMER,
            traceparent=given.get(TRACEPARENT_HEADER),
            attributes={
                "messaging.system": "rabbitmq",
                "messaging.operation.type": "process",
                "messaging.destination.name": self.consumer.queue_name,
                "shopstream.order_id": order.order_id,
                "shopstream.attempt": order.attempt,
            },
        ) as span:
            if span is not None:
                trace[TRACEPARENT_HEADER] = tracing.traceparent(span.get_span_context())
            self._answer(order, reply_to, trace)

    def _answer(self, order: ShipmentOrder, reply_to: str, trace: dict[str, str]) -> None:
        key = correlation_id(order.order_id, order.attempt)
        decided = answer(order, self.settings.carrier_name, seen_before=key in self.seen)
        self.seen.add(key)
        if decided.lost:
            CARRIER_MESSAGES.labels(REQUEST_QUEUE, "dropped").inc()
            log.info("reply lost on purpose", order_id=order.order_id, attempt=order.attempt)
            return
        channel = self.consumer.connection.default_channel
        producer = Producer(channel, DEFAULT_EXCHANGE)
        for reply in decided.now:
            publish(producer, _body(reply), reply_to, correlation_id=key, headers=trace)
        if decided.later is not None:
            hold = hold_queue(reply_to)
            if hold.name not in self._holds:
                hold(channel).declare()
                self._holds.add(hold.name)
            publish(
                producer,
                _body(decided.later),
                hold.name,
                correlation_id=key,
                headers=trace,
                expiration=self.settings.carrier_delivery_delay_s,
            )
        log.info(
            "answered",
            order_id=order.order_id,
            attempt=order.attempt,
            outcomes=[reply.outcome for reply in decided.now],
        )

    def run(self) -> None:
        self.consumer.start()

    def stop(self) -> None:
        self.consumer.stop()


def _body(reply: CarrierReply) -> bytes:
    return reply.model_dump_json().encode()
