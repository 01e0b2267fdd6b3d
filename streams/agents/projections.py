"""Read models, kept apart from the saga so that a slow database never holds an order up.

- order status in PostgreSQL, from the saga's state snapshots on ``orders.state``;
- stock levels in PostgreSQL, from the inventory's snapshots on ``inventory.stock``;
- order history in DynamoDB (the live-tracking timeline), from every order-keyed event.
Every write is idempotent (a version guard, a check for ids already recorded), so a replay is
harmless. A dependency that is down stalls its projection, retrying with backoff; nothing is
skipped.

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
    INVENTORY_STOCK,
    ORDERS_EVENTS,
    ORDERS_STATE,
    ORDERS_STATUS,
    PAYMENTS_EVENTS,
    SHIPPING_EVENTS,
    STATUS_REASON_HEADER,
)

# Connection trouble is waited out; anything else is a bug or bad data and is dead-lettered.
_transient = retry_if_exception_type(
    (OSError, asyncpg.exceptions.PostgresConnectionError, asyncpg.exceptions.InterfaceError)
)
Snapshot = TypeVar("Snapshot", bound=BaseModel)


def _retrying() -> AsyncRetrying:
    return AsyncRetrying(
        retry=_transient, wait=wait_exponential(multiplier=0.2, max=10), reraise=True
    )


def _batches(stream: faust.StreamT[bytes]) -> AsyncIterator[Sequence[faust.EventT[bytes]]]:
    # take_events is on Faust's Stream, not (yet) on the StreamT interface agents are given.
    return cast(faust.Stream[bytes], stream).take_events(
        settings.projection_batch_size, settings.projection_batch_window_s
    )


async def _project_snapshots(
    stream: faust.StreamT[bytes],
    kind: type[Snapshot],
    write: Callable[[asyncpg.Pool, list[tuple[Snapshot, faust.types.Message]]], Awaitable[None]],
) -> None:
    pool = await database()
    async for batch in _batches(stream):
        snapshots = []
        for record in batch:
            message = record.message
            try:
                snapshots.append((kind.model_validate_json(message.value or b""), message))
            except ValidationError as error:
                await channels.dead_letter(message, f"not a {kind.__name__}: {error}")
        if not snapshots:
            continue
        async for attempt in _retrying():
            with attempt:
                await write(pool, snapshots)


async def _write_orders(
    pool: asyncpg.Pool, snapshots: list[tuple[OrderState, faust.types.Message]]
) -> None:
    await project_orders(pool, [(state, _reason(message)) for state, message in snapshots])


def _reason(message: faust.types.Message) -> str | None:
    reason = dict(message.headers or []).get(STATUS_REASON_HEADER)
    return reason.decode() if reason else None


async def _write_stocks(
    pool: asyncpg.Pool, snapshots: list[tuple[Stock, faust.types.Message]]
) -> None:
    await project_stocks(pool, [stock for stock, _ in snapshots])


@app.agent(channels.source(ORDERS_STATE), name="order-status-projection")
async def order_status_projection(stream: faust.StreamT[bytes]) -> None:
    await _project_snapshots(stream, OrderState, _write_orders)


@app.agent(channels.source(INVENTORY_STOCK), name="stock-level-projection")
async def stock_level_projection(stream: faust.StreamT[bytes]) -> None:
    await _project_snapshots(stream, Stock, _write_stocks)


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
