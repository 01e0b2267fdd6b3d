"""Publishing from a request: Kafka's acknowledgement, or a 503 the client can retry."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from typing import Final

import structlog
from aiokafka.errors import KafkaError

from api.problem_types import ProblemType
from api.problems import ApiError
from shopstream import tracing
from shopstream.logs import get_logger
from streams.contract import EventBase
from streams.publisher import EventPublisher

log = get_logger(__name__)

# How long a request waits for Kafka before answering 503. The records may still arrive later;
# every consumer dedupes by event_id, so the client's retry is harmless either way.
PUBLISH_TIMEOUT_S: Final = 10.0
_TRACE_ID: Final = re.compile(r"^[0-9a-f]{32}$")


def request_trace() -> dict[str, str]:
    """``trace_id=`` for an event made while serving a request: the request's own trace id
    (see api.observability), so that the event's journey through the agents shares its trace.
    When the caller sent an id the contract cannot carry (it wants 32 hex digits): the trace
    of the request's span if it is traced, else empty."""
    trace_id = structlog.contextvars.get_contextvars().get("trace_id", "")
    if not _TRACE_ID.match(trace_id):
        trace_id = tracing.current_trace_id() or ""
    return {"trace_id": trace_id} if _TRACE_ID.match(trace_id) else {}


async def publish(publisher: EventPublisher, events: Sequence[EventBase]) -> None:
    """Return once Kafka has acknowledged every event; raise NOT_CONFIRMED (503) otherwise."""
    try:
        async with asyncio.timeout(PUBLISH_TIMEOUT_S):
            await publisher.publish(events)
    except (KafkaError, TimeoutError) as error:
        log.warning("publish failed", error=repr(error), types=[event.type for event in events])
        raise ApiError(
            ProblemType.NOT_CONFIRMED,
            "The request could not be confirmed just now; send it again (with the same "
            "Idempotency-Key, if it had one).",
            retry_after_s=2,
        ) from error
