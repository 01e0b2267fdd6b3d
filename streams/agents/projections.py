"""Read models, kept apart from the saga so that a slow database never holds an order up.

- order status in PostgreSQL, from the saga's state snapshots on ``orders.state``;
- stock levels in PostgreSQL, from the inventory's snapshots on ``inventory.stock``;
- order history in DynamoDB (the live-tracking timeline), from every order-keyed event.
Every write is idempotent (a version guard, a conditional put), so a replay is harmless.
A dependency that is down stalls its projection, retrying with backoff; nothing is skipped.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import asyncpg
import faust
from pydantic import BaseModel, ValidationError
from tenacity import AsyncRetrying, retry_if_exception_type, wait_exponential

from streams.app import app, channels, settings
from streams.contract import ContractError, decode
from streams.domain.inventory import Stock
from streams.domain.order_saga import OrderState
from streams.projections.history import ensure_history_table, history_client, record_event
from streams.projections.order_status import project_order
from streams.projections.schema import migrate
from streams.projections.stock import project_stock
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
_pool: asyncpg.Pool | None = None
_pool_lock = asyncio.Lock()
Snapshot = TypeVar("Snapshot", bound=BaseModel)


def _retrying() -> AsyncRetrying:
    return AsyncRetrying(
        retry=_transient, wait=wait_exponential(multiplier=0.2, max=10), reraise=True
    )


async def database() -> asyncpg.Pool:
    """The projections' one pool, opened (and the schema migrated) by whoever needs it first."""
    global _pool
    async with _pool_lock:
        if _pool is None:
            pool = await asyncpg.create_pool(
                settings.database_url.get_secret_value(), min_size=1, max_size=4
            )
            await migrate(pool)
            _pool = pool
    return _pool


async def _project_snapshots(
    stream: faust.StreamT[bytes],
    kind: type[Snapshot],
    write: Callable[[asyncpg.Pool, Snapshot, faust.types.Message], Awaitable[bool]],
) -> None:
    pool = await database()
    async for record in stream.events():
        message = record.message
        try:
            snapshot = kind.model_validate_json(message.value or b"")
        except ValidationError as error:
            await channels.dead_letter(message, f"not a {kind.__name__}: {error}")
            continue
        async for attempt in _retrying():
            with attempt:
                await write(pool, snapshot, message)


async def _write_order(pool: asyncpg.Pool, state: OrderState, message: faust.types.Message) -> bool:
    reason = dict(message.headers or []).get(STATUS_REASON_HEADER)
    return await project_order(pool, state, reason.decode() if reason else None)


async def _write_stock(pool: asyncpg.Pool, stock: Stock, message: faust.types.Message) -> bool:
    return await project_stock(pool, stock)


@app.agent(channels.source(ORDERS_STATE), name="order-status-projection")
async def order_status_projection(stream: faust.StreamT[bytes]) -> None:
    await _project_snapshots(stream, OrderState, _write_order)


@app.agent(channels.source(INVENTORY_STOCK), name="stock-level-projection")
async def stock_level_projection(stream: faust.StreamT[bytes]) -> None:
    await _project_snapshots(stream, Stock, _write_stock)


@app.agent(
    channels.source(
        ORDERS_EVENTS, ORDERS_STATUS, INVENTORY_EVENTS, PAYMENTS_EVENTS, SHIPPING_EVENTS
    ),
    name="order-history",
)
async def order_history(stream: faust.StreamT[bytes]) -> None:
    async with history_client(settings) as client:
        await ensure_history_table(settings, client=client)
        async for record in stream.events():
            try:
                event = decode(record.message.value or b"")
            except ContractError:
                continue  # the saga's agent dead-letters it; one copy there is enough
            async for attempt in _retrying():
                with attempt:
                    await record_event(client, settings, event)
