"""The Kafka hops of a trace (``shopstream.tracing``): a span for every record sent, whose
``traceparent`` the record carries in its headers, and an agent's handling of a record
continuing the trace from that header, or from the event's ``trace_id`` where it has none.

A send's span ends when Kafka acknowledges the record: its length is the hop's wait for the
broker, which the agents pay once per batch. Callers ask ``tracing.on()`` first; with tracing
off none of this runs.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any, Final, TypeVar

from shopstream import tracing
from shopstream.tracing import Span, SpanContext, SpanKind
from streams.contract import EventBase

KAFKA: Final = "kafka"
Delivery = TypeVar("Delivery", bound=Awaitable[Any])


async def sent(
    event: EventBase,
    topic: str,
    parent: SpanContext | None,
    produce: Callable[[list[tuple[str, bytes]]], Awaitable[Delivery]],
) -> Delivery:
    """``produce(headers)`` hands ``event``'s record to the producer: here inside the span of
    sending it to ``topic`` (under ``parent``, the span of whatever led to it, else under the
    current span if that is of the event's trace), its ``traceparent`` in ``headers``. The span
    ends when Kafka has acknowledged the record; the delivery is returned to await."""
    span = tracing.start_span(
        f"send {topic}",
        event.trace_id,
        kind=SpanKind.PRODUCER,
        parent=parent,
        attributes={
            "messaging.system": KAFKA,
            "messaging.operation.type": "send",
            "messaging.destination.name": topic,
            "messaging.message.id": str(event.event_id),
            "shopstream.event_type": event.type,
        },
    )
    if span is None:
        return await produce([])
    header = tracing.traceparent(span.get_span_context()).encode()
    try:
        delivery = await produce([(tracing.TRACEPARENT, header)])
    except BaseException as error:
        tracing.failed(span, repr(error))
        span.end()
        raise
    _end_when_acknowledged(span, delivery)
    return delivery


def _end_when_acknowledged(span: Span, delivery: Awaitable[Any]) -> None:
    if not isinstance(delivery, asyncio.Future):
        span.end()
        return

    def acknowledged(done: asyncio.Future[Any]) -> None:
        if done.cancelled():
            tracing.failed(span, "cancelled")
        elif (error := done.exception()) is not None:
            tracing.failed(span, repr(error))
        span.end()

    delivery.add_done_callback(acknowledged)


def processing(
    agent: str,
    topic: str,
    headers: Sequence[tuple[str, bytes]] | Mapping[str, bytes] | None,
    event: EventBase,
) -> AbstractContextManager[Span | None]:
    """The span of ``agent`` handling one record of ``topic`` that holds ``event``: the child
    of the send its ``traceparent`` header names, else a root of the event's trace."""
    if not tracing.on():
        return tracing.NO_SPAN
    attributes = {
        "messaging.system": KAFKA,
        "messaging.operation.type": "process",
        "messaging.destination.name": topic,
        "messaging.consumer.group.name": agent,
        "messaging.message.id": str(event.event_id),
        "shopstream.event_type": event.type,
    }
    if order_id := getattr(event, "order_id", None):
        attributes["shopstream.order_id"] = order_id
    return tracing.span(
        f"{agent} process {event.type}",
        event.trace_id,
        kind=SpanKind.CONSUMER,
        traceparent=tracing.traceparent_in(headers),
        attributes=attributes,
    )
