"""Read models, kept apart from the saga so that a slow database never holds an order up.

- order status in PostgreSQL, from the saga's state snapshots on ``orders.state``;
- order history in DynamoDB (the live-tracking timeline), from every order-keyed event.
Both writes are idempotent (a version guard, a conditional put), so a replay is harmless.
A dependency that is down stalls its projection, retrying with backoff; nothing is skipped.
"""

from __future__ import annotations

import asyncpg
import faust
from pydantic import ValidationError
from tenacity import AsyncRetrying, retry_if_exception_type, wait_exponential

from shopstream.logs import get_logger
from streams.app import app, channels, settings
from streams.contract import ContractError, decode
from streams.domain.order_saga import OrderState
from streams.projections.history import ensure_history_table, history_client, record_event
from streams.projections.order_status import project_order
from streams.projections.schema import migrate
from streams.topics import (
    INVENTORY_EVENTS,
    ORDERS_EVENTS,
    ORDERS_STATE,
    ORDERS_STATUS,
    PAYMENTS_EVENTS,
    SHIPPING_EVENTS,
    STATUS_REASON_HEADER,
)

log = get_logger(__name__)

# Connection trouble is waited out; anything else is a bug or bad data and is dead-lettered.
_transient = retry_if_exception_type(
    (OSError, asyncpg.exceptions.PostgresConnectionError, asyncpg.exceptions.InterfaceError)
)


def _retrying() -> AsyncRetrying:
    return AsyncRetrying(
        retry=_transient, wait=wait_exponential(multiplier=0.2, max=10), reraise=True
    )


@app.agent(channels.source(ORDERS_STATE), name="order-status-projection")
async def order_status_projection(stream: faust.StreamT[bytes]) -> None:
    pool = await asyncpg.create_pool(
        settings.database_url.get_secret_value(), min_size=1, max_size=2
    )
    try:
        await migrate(pool)
        async for record in stream.events():
            message = record.message
            try:
                state = OrderState.model_validate_json(message.value)
            except ValidationError as error:
                await channels.dead_letter(message, f"not an order state: {error}")
                continue
            headers = dict(message.headers or [])
            reason = (
                headers[STATUS_REASON_HEADER].decode() if STATUS_REASON_HEADER in headers else None
            )
            async for attempt in _retrying():
                with attempt:
                    await project_order(pool, state, reason)
    finally:
        await pool.close()


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
                event = decode(record.message.value)
            except ContractError:
                continue  # the saga's agent dead-letters it; one copy there is enough
            async for attempt in _retrying():
                with attempt:
                    await record_event(client, settings, event)
