"""How every agent applies a record: decode, decide, publish, then store — or dead-letter.

The order of the last two steps is what keeps "nothing lost" under at-least-once delivery:
outputs are acknowledged by Kafka before the table row that records the decision is written.
A crash in between replays the record; the decision is made again from the old row, and the
outputs carry the same derived ids, which their consumers dedupe.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import faust
import structlog

from shopstream.logs import get_logger
from shopstream.metrics import STREAM_EVENTS, STREAM_LATENCY
from streams.channels import Channels
from streams.contract import AnyEvent, ContractError, EventBase, decode

log = get_logger(__name__)


@dataclass(frozen=True)
class Outcome:
    """What applying one record led to. ``store`` runs after ``events`` are acknowledged."""

    events: Sequence[EventBase] = ()
    store: Callable[[], None] | None = None
    duplicate: bool = False
    refused: str | None = None
    # Deliveries already under way (sent by ``apply`` itself), awaited with ``events``.
    pending: Sequence[Awaitable[object]] = field(default_factory=tuple)


Apply = Callable[[AnyEvent, datetime], Awaitable[Outcome]]


async def applied(
    agent: str, records: AsyncIterable[faust.EventT[bytes]], channels: Channels, apply: Apply
) -> AsyncIterator[str]:
    """Apply each record in turn, yielding what became of it once it is fully handled.

    An agent yields these on: Faust then reports each record as done only after its outputs
    are acknowledged and its row stored, which is what ``agent.test_context().put`` waits for.
    """
    async for record in records:
        yield await apply_record(agent, record.message, channels, apply)


async def consume(
    agent: str, records: AsyncIterable[faust.EventT[bytes]], channels: Channels, apply: Apply
) -> None:
    async for _ in applied(agent, records, channels, apply):
        pass


async def apply_record(
    agent: str, message: faust.types.Message, channels: Channels, apply: Apply
) -> str:
    """Apply one record; return ``applied``, ``duplicate`` or ``dead_lettered``."""
    started = time.perf_counter()
    try:
        event = decode(message.value or b"")  # a tombstone (no value) is no record of ours
    except ContractError as error:
        return await _dead_letter(agent, "undecodable", message, channels, error.reason)
    context = {
        "trace_id": event.trace_id,
        "event_type": event.type,
        "event_id": str(event.event_id),
    }
    if order_id := getattr(event, "order_id", None):
        context["order_id"] = order_id
    with structlog.contextvars.bound_contextvars(**context):
        try:
            outcome = await apply(event, datetime.now(UTC))
        except Exception as error:
            log.exception("record could not be applied", agent=agent)
            return await _dead_letter(
                agent, event.type, message, channels, f"not applied: {error!r}"
            )
        if outcome.refused is not None:
            return await _dead_letter(agent, event.type, message, channels, outcome.refused)
        await channels.publish(outcome.events)
        for delivery in outcome.pending:
            await delivery
        if outcome.store is not None:
            outcome.store()
        result = "duplicate" if outcome.duplicate else "applied"
        STREAM_EVENTS.labels(agent, event.type, result).inc()
        STREAM_LATENCY.labels(agent).observe(time.perf_counter() - started)
        log.debug(result, agent=agent, produced=[e.type for e in outcome.events])
        return result


async def _dead_letter(
    agent: str, kind: str, message: faust.types.Message, channels: Channels, reason: str
) -> str:
    await channels.dead_letter(message, reason)
    STREAM_EVENTS.labels(agent, kind, "dead_lettered").inc()
    log.warning(
        "dead-lettered", agent=agent, reason=reason, source=f"{message.topic}/{message.partition}"
    )
    return "dead_lettered"
