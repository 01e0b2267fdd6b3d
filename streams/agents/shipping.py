"""The shipping agent: asks the carrier to ship each paid order, and reports what it says.

Each attempt's answers are kept in a table keyed by order and attempt, so a redelivered
request is answered again without asking the carrier twice. A retry after a problem waits
with exponential backoff before asking again.
"""

from __future__ import annotations

import asyncio
import json
from datetime import datetime

import faust

from streams.adapters.carrier import SimulatedCarrier
from streams.agents.processing import Outcome, consume
from streams.app import app, channels, settings, table
from streams.contract import AnyEvent, EventBase, ShipmentRequested, decode, derive, encode
from streams.topics import SHIPPING_COMMANDS

carrier = SimulatedCarrier()
shipments_table = table("shipments")


async def apply(event: AnyEvent, now: datetime) -> Outcome:
    if not isinstance(event, ShipmentRequested):
        return Outcome(refused=f"the shipping agent does not consume {event.type}")
    key = f"{event.order_id}/shipment/{event.attempt}".encode()
    if (answered := shipments_table.get(key)) is not None:
        return Outcome(
            events=[decode(raw.encode()) for raw in json.loads(answered)], duplicate=True
        )
    if event.attempt > 1:
        await asyncio.sleep(settings.shipping_retry_backoff_s * 2 ** (event.attempt - 2))
    answers: list[EventBase] = [
        derive(
            answer,
            cause_id=event.event_id,
            tag=f"{answer.type}/{index}",
            trace_id=event.trace_id,
            now=now,
        )
        for index, answer in enumerate(await carrier.ship(event))
    ]
    row = json.dumps([encode(answer).decode() for answer in answers]).encode()

    def store() -> None:
        shipments_table[key] = row

    return Outcome(events=answers, store=store)


@app.agent(channels.source(SHIPPING_COMMANDS), name="shipping")
async def shipping_agent(stream: faust.StreamT[bytes]) -> None:
    await consume("shipping", stream.events(), channels, apply)
