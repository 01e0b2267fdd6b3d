"""Read models, kept apart from the saga so that a slow database never holds an order up.

- order status in PostgreSQL, from the changelog of the saga's orders table: each order's
  latest state, the reason of its status included;
- stock levels in PostgreSQL, from the changelog of the inventory's stock table;
- order history in DynamoDB (the live-tracking timeline), from every order-keyed event.
Every write is idempotent (a version guard, a check for ids already recorded), so a replay is
harmless. The projections run in a consumer group of their own (the settings refuse them beside
the saga): a worker reads its own tables' changelogs only to restore them, so the saga's
workers could not follow them as streams. A dependency that is down stalls its projection,
retrying with backoff; nothing is skipped.

Records are written in batches (``projection_batch_size`` records or ``projection_batch_window_s``,
whichever comes first): one statement or call per event cost more CPU than the saga itself.
Faust acknowledges a batch's offsets only once the loop comes back for the next batch, that is
after the batch is written, so a crash replays the batch rather than losing it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import TypeVar, cast

import asyncpg
import faust
from pydantic import BaseModel, ValidationError
from tenacity import AsyncRetrying, retry_if_exception_type, wait_exponential

from streams.agents.database import database
from streams.app import app, channels, settings
from streams.contract import ContractError, decode
from streams.domain.inventory import Stock
from streams.domain.order_saga import OrderState
from streams.projections.history import ensure_history_table, history_client, record_events
from streams.projections.order_status import project_orders
from streams.projections.stock import project_stocks
from streams.topics import (
    INVENTORY_EVENTS,
    ORDERS_EVENTS,
    ORDERS_STATUS,
    ORDERS_TABLE,
    PAYMENTS_EVENTS,
    SHIPPING_EVENTS,
    STOCK_TABLE,
    changelog_topic,
)

# Connection trouble is waited out; anything else is a bug or bad data and is dead-lettered.
_transient = retry_if_exception_type(
    (OSError, asyncpg.exceptions.PostgresConnectionError, asyncpg.exceptions.InterfaceError)
)
Row = TypeVar("Row", bound=BaseModel)


def _retrying() -> AsyncRetrying:
    return AsyncRetrying(
        retry=_transient, wait=wait_exponential(multiplier=0.2, max=10), reraise=True
    )


def _batches(stream: faust.StreamT[bytes]) -> AsyncIterator[Sequence[faust.EventT[bytes]]]:
    # take_events is on Faust's Stream, not (yet) on the StreamT interface agents are given.
    return cast(faust.Stream[bytes], stream).take_events(
        settings.projection_batch_size, settings.projection_batch_window_s
    )


async def _project_rows(
    stream: faust.StreamT[bytes],
    kind: type[Row],
    write: Callable[[asyncpg.Pool, list[Row]], Awaitable[None]],
) -> None:
    pool = await database()
    async for batch in _batches(stream):
        rows = []
        for record in batch:
            message = record.message
            if message.value is None:
                continue  # a row deleted from the table: nothing to project
            try:
                rows.append(kind.model_validate_json(message.value))
            except ValidationError as error:
                await channels.dead_letter(message, f"not a {kind.__name__}: {error}")
        if not rows:
            continue
        async for attempt in _retrying():
            with attempt:
                await write(pool, rows)


@app.agent(
    channels.changelog(changelog_topic(settings.worker_app_id, ORDERS_TABLE)),
    name="order-status-projection",
)
async def order_status_projection(stream: faust.StreamT[bytes]) -> None:
    await _project_rows(stream, OrderState, project_orders)


@app.agent(
    channels.changelog(changelog_topic(settings.worker_app_id, STOCK_TABLE)),
    name="stock-level-projection",
)
async def stock_level_projection(stream: faust.StreamT[bytes]) -> None:
    await _project_rows(stream, Stock, project_stocks)


@app.agent(
    channels.source(
        ORDERS_EVENTS, ORDERS_STATUS, INVENTORY_EVENTS, PAYMENTS_EVENTS, SHIPPING_EVENTS
    ),
    name="order-history",
)
async def order_history(stream: faust.StreamT[bytes]) -> None:
    async with history_client(settings) as client:
        await ensure_history_table(settings, client=client)
        async for batch in _batches(stream):
            events = []
            for record in batch:
                try:
                    events.append(decode(record.message.value or b""))
                except ContractError:
                    continue  # the saga's agent dead-letters it; one copy there is enough
            async for attempt in _retrying():
                with attempt:
                    await record_events(client, settings, events)
