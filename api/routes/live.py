"""Live updates as Server-Sent Events: an order's timeline, and a customer's notifications.

Each stream sends events with their event id as the SSE ``id``. A browser that reconnects sends
the last one back as ``Last-Event-ID`` and gets what came after it: from the order's DynamoDB
history and the gateway's recent events (``api.services.live``), then live from Kafka. Browsers
dedupe by event id, so an event sent twice across a reconnect shows once.

The streams need the access token in ``Authorization``, as every other call does, which
``EventSource`` cannot send: the storefront reads them with ``fetch``.

    GET /live/orders/{order_id}   401, 404 (not yours) as problem+json; else ``event: order``
                                  for every event of the order: its timeline so far (or after
                                  Last-Event-ID), then each new one.
    GET /live/notifications       ``event: ready`` first (its id a bookmark, ``t:<Unix time>``),
                                  then ``event: notice`` for events of the caller's orders that
                                  deserve a toast; resumable within the replay window.

``data`` is JSON: ``order_id``, ``event_id``, ``type``, ``occurred_at``, ``summary`` (as in
``GET /orders/{id}/events``), ``timeline_key`` (text whose order is the timeline's, see
``streams.projections.history.timeline_key``), ``text`` (the timeline line) and ``toast``
(null, or ``level``, ``text`` and ``action``: ``retry-payment`` or null). Comment lines keep
idle streams open. An order's stream sends its timeline so far in that order; what arrives
live comes as it arrives, and the page places each event by its ``timeline_key``.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterable
from datetime import timedelta
from typing import Annotated, Final

from fastapi import APIRouter, Header
from fastapi.responses import StreamingResponse

from api.deps import CurrentUser, DynamoDep, LiveDep, PoolDep, SettingsDep
from api.routes.orders import OrderIdPath
from api.services import orders
from api.services.live import LiveEvent, Subscription, in_time_order
from api.toasts import timeline_text, toast_for
from shopstream.settings import Settings
from streams.projections.history import order_timeline

# Left out of the OpenAPI document: it cannot describe an endless event stream, and clients
# generated from it (and fuzzers) would wait on one forever. This docstring is its contract.
router = APIRouter(tags=["live"], include_in_schema=False)

EVENT_STREAM: Final = "text/event-stream"
# A notification stream's first id: "t:<Unix time>", i.e. everything from then on.
BOOKMARK: Final = "t:"
LastEventId = Annotated[
    str | None,
    Header(
        alias="Last-Event-ID",
        max_length=100,
        description="The id of the last event received: the stream resumes after it.",
    ),
]
_STREAM_HEADERS: Final = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}


def sse_frame(event: LiveEvent, kind: str) -> str:
    """One SSE message: the event id as ``id``, the timeline line and any toast in ``data``."""
    toast = toast_for(event.type, event.summary)
    data = {
        "order_id": event.order_id,
        "event_id": event.event_id,
        "type": event.type,
        "occurred_at": event.occurred_at.isoformat(),
        "summary": event.summary,
        "timeline_key": event.timeline_key,
        "text": timeline_text(event.type, event.summary),
        "toast": None
        if toast is None
        else {"level": toast.level, "text": toast.text, "action": toast.action},
    }
    return f"id: {event.event_id}\nevent: {kind}\ndata: {json.dumps(data)}\n\n"


def _bookmark_time(last_event_id: str) -> float:
    try:
        return float(last_event_id.removeprefix(BOOKMARK))
    except ValueError:
        return 0.0  # not one of ours: everything the window holds


def after(
    events: list[LiveEvent], last_event_id: str | None, overlap_s: float = 0.0
) -> list[LiveEvent]:
    """What follows ``last_event_id`` in ``events``; all of them when that id is not there.

    ``overlap_s``: also the events before it that occurred at most this long before it. The
    history records each topic as its consumer gets there, so an event may be stored after one
    that happened a moment later; the browser could have been sent the later one live and not
    yet this one. Browsers dedupe by event id: sending a few twice costs nothing.
    """
    if last_event_id is None:
        return events
    for index, event in enumerate(events):
        if event.event_id == last_event_id:
            since = event.occurred_at - timedelta(seconds=overlap_s)
            missed = [e for e in events[:index] if e.occurred_at >= since]
            return missed + events[index + 1 :]
    return events


def order_backlog(
    stored: Iterable[LiveEvent],
    recent: Iterable[LiveEvent],
    last_event_id: str | None,
    overlap_s: float,
) -> list[LiveEvent]:
    """What an order's stream sends before its live events: the stored timeline and the
    gateway's recent events not stored yet, in the order they happened, after
    ``last_event_id`` (see ``after``)."""
    stored = list(stored)
    ids = {event.event_id for event in stored}
    fresh = [event for event in recent if event.event_id not in ids]
    return after(in_time_order([*stored, *fresh]), last_event_id, overlap_s)


async def _stream(
    backlog: Iterable[LiveEvent],
    subscription: Subscription,
    settings: Settings,
    kind: str,
) -> AsyncIterator[str]:
    sent: set[str] = set()

    def fresh(event: LiveEvent) -> bool:
        if event.event_id in sent:
            return False
        sent.add(event.event_id)
        return kind == "order" or toast_for(event.type, event.summary) is not None

    yield f"retry: {settings.live_retry_ms}\n\n"
    for event in backlog:
        if fresh(event):
            yield sse_frame(event, kind)
    while True:
        try:
            async with asyncio.timeout(settings.live_keepalive_s):
                arrived = await subscription.queue.get()
        except TimeoutError:
            yield ": keep-alive\n\n"
            continue
        if arrived is None:
            return
        if fresh(arrived):
            yield sse_frame(arrived, kind)
        if subscription.cut_off and subscription.queue.empty():
            return


@router.get(
    "/live/orders/{order_id}",
    summary="Follow an order: its timeline so far (or after Last-Event-ID), then live",
    response_class=StreamingResponse,
)
async def follow_order(
    order_id: OrderIdPath,
    user: CurrentUser,
    pool: PoolDep,
    dynamodb: DynamoDep,
    live: LiveDep,
    settings: SettingsDep,
    last_event_id: LastEventId = None,
) -> StreamingResponse:
    await orders.visible_order(pool, user, order_id)

    async def body() -> AsyncIterator[str]:
        # Subscribed before the history is read: an event arriving meanwhile is in one or the
        # other (or both, and sent once). Inside the body, so that the subscription ends with
        # the response however it ends.
        with live.follow_order(order_id) as subscription:
            stored = [
                LiveEvent.from_entry(entry)
                for entry in await order_timeline(settings, order_id, client=dynamodb)
            ]
            backlog = order_backlog(
                stored,
                live.recent_for_order(order_id),
                last_event_id,
                settings.live_resume_overlap_s,
            )
            async for frame in _stream(backlog, subscription, settings, "order"):
                yield frame

    return StreamingResponse(body(), media_type=EVENT_STREAM, headers=_STREAM_HEADERS)


@router.get(
    "/live/notifications",
    summary="My notifications: events of my orders worth a toast, live (resumes within the "
    "gateway's replay window after Last-Event-ID)",
    response_class=StreamingResponse,
)
async def follow_notifications(
    user: CurrentUser, live: LiveDep, settings: SettingsDep, last_event_id: LastEventId = None
) -> StreamingResponse:

    async def body() -> AsyncIterator[str]:
        with live.follow_user(user.user_id) as subscription:
            if last_event_id is None:
                # A bookmark for the browser to resume from: the next page it opens (a
                # navigation ends this stream) gets what arrived in between.
                backlog = []
                yield f"id: {BOOKMARK}{time.time():.3f}\nevent: ready\ndata: {{}}\n\n"
            elif last_event_id.startswith(BOOKMARK):
                since = _bookmark_time(last_event_id)
                backlog = live.recent_for_user(user.user_id, since)
            else:
                backlog = after(live.recent_for_user(user.user_id), last_event_id)
            async for frame in _stream(backlog, subscription, settings, "notice"):
                yield frame

    return StreamingResponse(body(), media_type=EVENT_STREAM, headers=_STREAM_HEADERS)
