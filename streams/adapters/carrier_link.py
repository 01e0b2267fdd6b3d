"""The carrier link over AMQP (kombu): declaring the topology, publishing with confirms,
consuming a queue, and dead-lettering what a consumer cannot use.

kombu is synchronous. Publishing runs on one thread of its own (one connection, one channel in
confirm mode), so the event loop never blocks on the broker; a consumer runs
``kombu.mixins.ConsumerMixin`` on a thread of its own, which reconnects after a broker restart.
A message is acknowledged only after its handler returned, or, for a handler that hands the
message on (returns a future, such as a Kafka delivery), once that future is done: a crash in
between redelivers it, and both sides are idempotent about that. Up to ``carrier_prefetch``
messages are under way at once, so such a consumer does not wait for one delivery per message.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from kombu.connection import Connection
from kombu.entity import Exchange, Queue
from kombu.message import Message
from kombu.messaging import Producer
from kombu.mixins import ConsumerMixin

from shopstream import tracing
from shopstream.logs import get_logger
from shopstream.metrics import CARRIER_MESSAGES
from shopstream.settings import Settings
from shopstream.tracing import SpanKind
from streams.carrier_topology import (
    DEAD_LETTER_KEY,
    DEAD_LETTER_REASON_HEADER,
    DEAD_LETTER_SOURCE_HEADER,
    EXCHANGE_TYPE,
    QUEUE_ARGUMENTS,
    REQUEST_KEY,
    REQUEST_QUEUE,
    CarrierTopology,
)

log = get_logger(__name__)

# The W3C trace context of the span that sent a message (a request's publish, the carrier's
# handling of it), beside the ``trace_id`` header the carrier echoes.
TRACEPARENT_HEADER = tracing.TRACEPARENT

JSON = "application/json"
# Connection retries before a publish gives up (and the record is applied again later).
_RETRY_POLICY: Mapping[str, float] = {
    "max_retries": 5,
    "interval_start": 0.2,
    "interval_step": 0.5,
    "interval_max": 2.0,
}


class Undeliverable(Exception):
    """Raised by a handler for a message it can never use: it goes to the dead-letter queue."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def topology(settings: Settings) -> CarrierTopology:
    return CarrierTopology(prefix=settings.topic_prefix)


def connect(settings: Settings) -> Connection:
    """A connection whose channels wait for the broker's confirm on every publish."""
    return Connection(
        settings.amqp_url.get_secret_value(),
        transport_options={"confirm_publish": True},
        connect_timeout=settings.health_timeout_s,
        heartbeat=30,
    )


def exchange(names: CarrierTopology) -> Exchange:
    return Exchange(names.exchange, type=EXCHANGE_TYPE, durable=True)


def queues(names: CarrierTopology) -> list[Queue]:
    return [
        Queue(
            queue,
            exchange(names),
            routing_key=key,
            durable=True,
            queue_arguments=dict(QUEUE_ARGUMENTS),
        )
        for queue, key in names.bindings
    ]


def declare(connection: Connection, names: CarrierTopology) -> None:
    """Exchange, queues and bindings; declaring what exists with the same arguments is a no-op."""
    channel = connection.default_channel
    for queue in queues(names):
        queue(channel).declare()


def delete(connection: Connection, names: CarrierTopology) -> None:
    """Remove the link's queues (and the carrier's delivery hold) and exchange: for test runs."""
    channel = connection.default_channel
    for queue in (*names.queues, hold_queue_name(names.reply_queue)):
        channel.queue_delete(queue)
    channel.exchange_delete(names.exchange)


def hold_queue_name(reply_queue: str) -> str:
    """Where a carrier parks a reply it sends later (see ``streams.carrier_simulator``)."""
    return f"{reply_queue}.delivery-hold"


def publish(
    producer: Producer,
    body: bytes,
    routing_key: str,
    *,
    correlation_id: str,
    headers: Mapping[str, Any] | None = None,
    **properties: Any,
) -> None:
    """One persistent message, returned from once the broker has confirmed it."""
    producer.publish(
        body,
        routing_key=routing_key,
        content_type=JSON,
        content_encoding="utf-8",
        delivery_mode=2,
        correlation_id=correlation_id,
        headers=dict(headers or {}),
        timestamp=int(time.time()),  # seconds: AMQP timestamps have no finer grain
        retry=True,
        retry_policy=dict(_RETRY_POLICY),
        **properties,
    )


def body_of(message: Message) -> bytes:
    """The message's bytes as sent (py-amqp decodes a body that names its encoding)."""
    body = message.body
    return body.encode() if isinstance(body, str) else bytes(body)


def dead_letter(producer: Producer, message: Message, source_queue: str, reason: str) -> None:
    """The message as it came (body, correlation id, headers), with why and where from."""
    headers = dict(message.headers or {})
    headers.update(
        {
            DEAD_LETTER_REASON_HEADER: reason,
            DEAD_LETTER_SOURCE_HEADER: source_queue,
        }
    )
    publish(
        producer,
        body_of(message),
        DEAD_LETTER_KEY,
        correlation_id=message.properties.get("correlation_id") or "",
        headers=headers,
    )
    log.warning("dead-lettered", queue=source_queue, reason=reason)


# None: handled; a future: handled once it is done (the message is acknowledged then).
Handler = Callable[[Message], "Future[object] | None"]
# How long the consumer's thread waits for a message before it looks at the futures again.
_POLL_S = 0.02


class QueueConsumer(ConsumerMixin):
    """Consumes one of the link's queues on a thread of its own; see the module docstring."""

    def __init__(self, settings: Settings, queue_name: str, handle: Handler) -> None:
        self.connection = connect(settings)
        self.names = topology(settings)
        self.queue_name = queue_name
        self.handle = handle
        self.prefetch = settings.carrier_prefetch
        self._thread: threading.Thread | None = None
        self.ready = threading.Event()
        # Messages handed on, in arrival order, with the future that says when they are done.
        self._handed_on: deque[tuple[Future[object], Message]] = deque()

    def get_consumers(self, consumer: Any, channel: Any) -> list[Any]:
        [queue] = [queue for queue in queues(self.names) if queue.name == self.queue_name]
        return [
            consumer(
                queues=[queue],
                on_message=self._on_message,
                prefetch_count=self.prefetch,
                accept=[JSON],
            )
        ]

    def on_consume_ready(
        self, connection: Any, channel: Any, consumers: Any, **kwargs: Any
    ) -> None:
        self.ready.set()

    def _on_message(self, message: Message) -> None:
        try:
            handed_on = self.handle(message)
        except Undeliverable as refused:
            self._dead_letter(message, refused.reason)
            return
        except Exception as error:
            self._requeue(message, error)
            return
        if handed_on is None:
            self._handled(message)
        else:
            self._handed_on.append((handed_on, message))

    def on_iteration(self) -> None:
        # Called by the consuming loop between waits for messages: the acknowledgements are
        # sent from this thread, which owns the channel.
        while self._handed_on and self._handed_on[0][0].done():
            handed_on, message = self._handed_on.popleft()
            if (error := handed_on.exception()) is None:
                self._handled(message)
            else:
                self._requeue(message, error)

    def _handled(self, message: Message) -> None:
        CARRIER_MESSAGES.labels(self.label, "handled").inc()
        message.ack()

    def _dead_letter(self, message: Message, reason: str) -> None:
        producer = Producer(self.connection.default_channel, exchange(self.names))
        dead_letter(producer, message, self.queue_name, reason)
        CARRIER_MESSAGES.labels(self.label, "dead_lettered").inc()
        message.ack()

    def _requeue(self, message: Message, error: BaseException) -> None:
        # Not the message's fault (Kafka or the broker away): it comes back later. The pause
        # keeps a redelivery loop from spinning while the dependency is away.
        log.error("message not handled; requeued", queue=self.queue_name, error=repr(error))
        time.sleep(1)
        message.requeue()

    @property
    def label(self) -> str:
        """The queue's name without the deployment's prefix: a bounded metric label."""
        return self.queue_name.removeprefix(self.names.prefix)

    def start(self) -> None:
        declare(self.connection, self.names)
        self._thread = threading.Thread(
            target=self.run,
            kwargs={"safety_interval": _POLL_S},
            name=self.queue_name,
            daemon=True,
        )
        self._thread.start()

    def stop(self) -> None:
        self.should_stop = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.connection.release()


class RequestSender:
    """The shipping side's publisher of shipment requests."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.names = topology(settings)
        self._connection: Connection | None = None
        self._producer: Producer | None = None
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="carrier-requests")

    def _ensure_producer(self) -> Producer:
        if self._producer is None:
            self._connection = connect(self.settings)
            declare(self._connection, self.names)
            self._producer = Producer(self._connection.default_channel, exchange(self.names))
        return self._producer

    def _send(self, body: bytes, correlation_id: str, headers: dict[str, str]) -> None:
        publish(
            self._ensure_producer(),
            body,
            REQUEST_KEY,
            correlation_id=correlation_id,
            headers=headers,
            reply_to=self.names.reply_queue,
        )
        CARRIER_MESSAGES.labels(REQUEST_QUEUE, "sent").inc()

    async def send(self, body: bytes, correlation_id: str, trace_id: str) -> None:
        """Publish a request and return once the broker has confirmed it. Traced, the publish
        is a span of ``trace_id`` (under the current span, the record's that asked for it)
        whose ``traceparent`` the message carries; the carrier echoes ``trace_id``."""
        loop = asyncio.get_running_loop()
        headers = {"trace_id": trace_id}
        with tracing.span(
            f"publish {REQUEST_QUEUE}",
            trace_id,
            kind=SpanKind.PRODUCER,
            attributes={
                "messaging.system": "rabbitmq",
                "messaging.operation.type": "send",
                "messaging.destination.name": self.names.exchange,
                "messaging.rabbitmq.destination.routing_key": REQUEST_KEY,
                "messaging.message.conversation_id": correlation_id,
            },
        ) as span:
            if span is not None:
                headers[TRACEPARENT_HEADER] = tracing.traceparent(span.get_span_context())
            await loop.run_in_executor(self._thread, self._send, body, correlation_id, headers)

    def close(self) -> None:
        self._thread.shutdown(wait=True)
        if self._connection is not None:
            self._connection.release()
