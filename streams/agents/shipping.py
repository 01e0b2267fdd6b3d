"""The shipping agent: asks the carrier over AMQP to ship each paid order, and reports its
replies as the contract's shipping events.

The agent owns one shipment row per order and attempt (``streams.domain.shipping`` decides):
    ShipmentRequested     -> the request is published to the carrier exchange (confirmed by
                             the broker) before the row recording it is stored;
    CarrierReplied        -> the reply consumer below hands every carrier reply back through
                             ``shipping.commands``, keyed by order, so the order's row has one
                             writer; each outcome is reported once per attempt;
    ShipmentReplyOverdue  -> a timer hints at requests left unanswered; the request is sent
                             again (the carrier answers a repeated request the same way).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Future
from datetime import UTC, datetime, timedelta
from typing import Final, cast

import faust
from kombu.message import Message
from pydantic import TypeAdapter, ValidationError

from shopstream import tracing
from shopstream.logs import get_logger
from shopstream.tracing import SpanKind
from streams.adapters.carrier_link import (
    TRACEPARENT_HEADER,
    QueueConsumer,
    RequestSender,
    Undeliverable,
    body_of,
)
from streams.adapters.carrier_messages import CarrierReply, ShipmentOrder
from streams.agents.processing import Outcome, StagedTable, applied
from streams.app import app, channels, settings, table
from streams.carrier_topology import correlation_id
from streams.contract import (
    AnyEvent,
    CarrierReplied,
    ShipmentReplyOverdue,
    ShipmentRequested,
    TraceId,
)
from streams.domain.shipping import (
    LinkPolicy,
    Shipment,
    on_overdue,
    on_reply,
    on_request,
    overdue_hint,
    row_key,
)
from streams.topics import SHIPPING_COMMANDS

log = get_logger(__name__)

policy = LinkPolicy(
    reply_timeout=timedelta(seconds=settings.carrier_reply_timeout_s),
    max_requests=settings.carrier_max_requests,
    retry_backoff=timedelta(seconds=settings.shipping_retry_backoff_s),
)
shipments_table = table("shipments")
shipments = StagedTable.of_model(shipments_table, Shipment)
sender = RequestSender(settings)


def _load(order_id: str, attempt: int) -> Shipment | None:
    return shipments.get(row_key(order_id, attempt).encode())


async def apply(event: AnyEvent, now: datetime) -> Outcome:
    match event:
        case ShipmentRequested():
            step = on_request(_load(event.order_id, event.attempt), event, now)
            if step.send and (wait := policy.backoff(event.attempt).total_seconds()):
                await asyncio.sleep(wait)
        case CarrierReplied():
            step = on_reply(_load(event.order_id, event.attempt), event, now)
        case ShipmentReplyOverdue():
            step = on_overdue(_load(event.order_id, event.attempt), event, now, policy)
        case _:
            return Outcome(refused=f"the shipping agent does not consume {event.type}")
    if step.refused is not None:
        return Outcome(refused=step.refused)
    if step.send and step.shipment is not None:
        await _send(step.shipment)
    if (shipment := step.shipment) is not None:
        key = row_key(shipment.order_id, shipment.attempt).encode()
        shipments.stage(key, shipment)
    return Outcome(events=step.events, stored=_tracking(step.shipment), duplicate=step.duplicate)


async def _send(shipment: Shipment) -> None:
    request = shipment.request
    await sender.send(
        ShipmentOrder.of(request).model_dump_json().encode(),
        correlation_id(request.order_id, request.attempt),
        request.trace_id,
    )
    log.info("shipment requested", attempt=shipment.attempt, sends=shipment.requests_sent)


def _tracking(shipment: Shipment | None) -> Callable[[], None] | None:
    return None if shipment is None else lambda: _track(shipment)


@app.agent(channels.source(SHIPPING_COMMANDS), name="shipping")
async def shipping_agent(stream: faust.StreamT[bytes]) -> AsyncIterator[str]:
    # Orders at once: each may wait on the broker's confirm, or on a retry's backoff.
    async for result in applied(
        "shipping", stream, channels, apply, [shipments], keys_at_once=True
    ):
        yield result


# --- replies: the reply queue -> shipping.commands ---------------------------------------


_TRACE_ID: Final = TypeAdapter[str](TraceId)


def _trace_id(message: Message) -> str | None:
    """The reply's ``trace_id`` header: the request's, which the carrier echoes. Absent or
    empty, the command gets a trace of its own; anything else must be a trace id, or the
    message is malformed (a requeue would only bring it back the same)."""
    header = (message.headers or {}).get("trace_id")
    if header is None or header == "":
        return None
    try:
        return _TRACE_ID.validate_python(header)
    except ValidationError as error:
        [problem] = error.errors(include_url=False)
        raise Undeliverable(
            f"a carrier reply with a malformed trace_id header: {problem['msg']} (got {header!r})"
        ) from error


def _handle_reply(message: Message, loop: asyncio.AbstractEventLoop) -> Future[object]:
    try:
        reply = CarrierReply.model_validate_json(body_of(message))
    except ValidationError as error:
        raise Undeliverable(f"not a carrier reply: {error.errors(include_url=False)}") from error
    try:
        command = reply.as_command(_trace_id(message))
    except ValidationError as error:
        # The reply's fields are the command's, so this is not expected; but a message that
        # cannot become a command is the message's fault, never worth a requeue.
        raise Undeliverable(f"not a carrier reply: {error.errors(include_url=False)}") from error
    # Traced, the reply's receipt continues the request's trace from the carrier's span, and
    # the command goes to Kafka as its child.
    with tracing.span(
        "shipping receive carrier reply",
        command.trace_id,
        kind=SpanKind.CONSUMER,
        traceparent=(message.headers or {}).get(TRACEPARENT_HEADER),
        attributes={
            "messaging.system": "rabbitmq",
            "messaging.operation.type": "receive",
            "messaging.destination.name": sender.names.reply_queue,
            "shopstream.order_id": command.order_id,
            "shopstream.outcome": reply.outcome,
        },
    ) as span:
        parent = None if span is None else span.get_span_context()
        # Acknowledged to the broker once Kafka has the command; the next replies go on
        # meanwhile. A publish that has not finished in time fails, and the reply comes back.
        publish = asyncio.wait_for(
            channels.publish([command], parent), settings.carrier_handoff_timeout_s
        )
        return cast("Future[object]", asyncio.run_coroutine_threadsafe(publish, loop))


@app.task  # type: ignore[untyped-decorator]
async def consume_carrier_replies() -> None:
    loop = asyncio.get_running_loop()
    consumer = QueueConsumer(
        settings, sender.names.reply_queue, lambda message: _handle_reply(message, loop)
    )
    await asyncio.to_thread(consumer.start)
    try:
        await asyncio.Event().wait()  # until the worker stops and cancels this task
    finally:
        await asyncio.to_thread(consumer.stop)
        await asyncio.to_thread(sender.close)


# --- silences: requests awaiting a reply -> ShipmentReplyOverdue -------------------------

# Rows awaiting a reply (key -> (sent at, order, attempt, trace)), kept as rows are stored so
# the timer does not decode every shipment ever made. Rescanned now and then: rows recovered
# from the changelog after a rebalance never went through ``store``.
_awaiting: dict[bytes, Shipment] = {}
_hinted: dict[bytes, float] = {}
_RESCAN_EVERY = 60  # ticks
_ticks = 0


def _track(shipment: Shipment) -> None:
    key = row_key(shipment.order_id, shipment.attempt).encode()
    if shipment.awaiting_reply:
        _awaiting[key] = shipment
    else:
        _awaiting.pop(key, None)
        _hinted.pop(key, None)


@app.timer(interval=settings.carrier_overdue_check_interval_s)  # type: ignore[untyped-decorator]
async def hint_unanswered_requests() -> None:
    global _ticks
    if _ticks % _RESCAN_EVERY == 0:
        for key, raw in shipments_table.items():
            try:
                _track(Shipment.model_validate_json(raw))
            except ValidationError:
                # A row from before the carrier link (its events, not a Shipment): that attempt
                # was answered in-process and awaits nothing. A command for it is dead-lettered
                # with the reason when it fails to load.
                log.debug("shipment row not tracked", key=key.decode(errors="replace"))
    _ticks += 1
    now = datetime.now(UTC)
    due = []
    for key, shipment in list(_awaiting.items()):
        # A hint the agent has not acted on yet is not repeated for a while.
        recently = time.monotonic() - _hinted.get(key, 0.0) < policy.reply_timeout.total_seconds()
        if shipment.overdue(now, policy) and not recently:
            _hinted[key] = time.monotonic()
            due.append(overdue_hint(shipment))
    await channels.publish(due)
