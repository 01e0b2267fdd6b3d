"""Read models, kept apart from the saga so that a slow database never holds an order up.

- order status in PostgreSQL, from the changelog of the saga's orders table: each order's
  latest state, the reason of its status included;
- stock levels in PostgreSQL, from the changelog of the inventory's stock table;
- order history in DynamoDB (the live-tracking timeline), from every order-keyed event and the
  status changes the orders changelog carries (``streams.contract.OrderUpdate``).
Every write is idempotent (a version guard, a check for ids already recorded), so a replay is
harmless. The projections run in a consumer group of their own (the settings refuse them beside
the saga): a worker reads its own tables' changelogs only to restore them, so the saga's
workers could not follow them as streams. A dependency that is down stalls its projection,
retrying with backoff; nothing is skipped.

Records are written in batches (``projection_batch_size`` records or ``projection_batch_window_s``,
whichever comes first): one statement or call per event cost more CPU than the saga itself.
Faust acknowledges a batch's offsets only once the loop comes back for the next batch, that is
after the batch is written, so a crash replays the batch rather than losing it.

A record its store refuses for what it holds (PostgreSQL: a NUL in text, a number out of a
column's range; DynamoDB: an item over 400 KB) goes to the dead-letter topic with the store's
reason, and the projection goes on: a batch refused so is written again record by record, to
find the records at fault, and the others are written. Anything else a store answers is not
the record's fault and stops the projection, as a bug must.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import TypeAlias, TypeVar, cast

import asyncpg
import faust
from pydantic import BaseModel, ValidationError
from tenacity import AsyncRetrying, retry_if_exception, wait_exponential

from shopstream.logs import get_logger
from streams.agents.database import connection_trouble, database, refused_by_database
from streams.agents.processing import dead_letter_all
from streams.app import app, channels, settings
from streams.contract import AnyEvent, ContractError, decode, decode_order_update
from streams.domain.inventory import Stock
from streams.domain.order_saga import OrderState
from streams.projections.history import (
    ensure_history_table,
    history_client,
    record_events,
    refused_by_dynamodb,
    unavailable,
)
from streams.projections.order_status import project_orders
from streams.projections.stock import project_stocks
from streams.topics import (
    INVENTORY_EVENTS,
    ORDERS_EVENTS,
    ORDERS_TABLE,
    PAYMENTS_EVENTS,
    SHIPPING_EVENTS,
    STOCK_TABLE,
    changelog_topic,
)

log = get_logger(__name__)

Row = TypeVar("Row", bound=BaseModel)
Item = TypeVar("Item")
Message: TypeAlias = faust.types.Message


def _batches(stream: faust.StreamT[bytes]) -> AsyncIterator[Sequence[faust.EventT[bytes]]]:
    # take_events is on Faust's Stream, not (yet) on the StreamT interface agents are given.
    return cast(faust.Stream[bytes], stream).take_events(
        settings.projection_batch_size, settings.projection_batch_window_s
    )


@dataclass(frozen=True)
class _Store:
    """Where a projection writes, and how to read its failures."""

    name: str
    refused: Callable[[BaseException], bool]  # the record's fault: dead-letter it
    transient: Callable[[BaseException], bool]  # the store's or the network's: wait it out

    async def write(self, write: Callable[[], Awaitable[object]]) -> None:
        retrying = AsyncRetrying(
            retry=retry_if_exception(self.transient),
            wait=wait_exponential(multiplier=0.2, max=10),
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                await write()


_POSTGRESQL = _Store("PostgreSQL", refused_by_database, connection_trouble)
_DYNAMODB = _Store("DynamoDB", refused_by_dynamodb, unavailable)


async def _write_all(
    agent: str,
    store: _Store,
    records: Sequence[tuple[Message, Item]],
    write: Callable[[list[Item]], Awaitable[object]],
) -> None:
    """Write the batch; if the store refuses it for what it holds, write each record on its
    own, and dead-letter those the store refuses, with its reason."""
    if not records:
        return
    try:
        await store.write(partial(write, [item for _, item in records]))
        return
    except Exception as error:
        if not store.refused(error):
            raise
        if len(records) == 1:
            await dead_letter_all(agent, channels, [(records[0][0], _refusal(store, error))])
            return
        log.warning(
            "batch refused; writing its records one by one",
            agent=agent,
            records=len(records),
            reason=_refusal(store, error),
        )
    refused = []
    for message, item in records:
        try:
            await store.write(partial(write, [item]))
        except Exception as error:
            if not store.refused(error):
                raise
            refused.append((message, _refusal(store, error)))
    await dead_letter_all(agent, channels, refused)


def _refusal(store: _Store, error: BaseException) -> str:
    return f"not written to {store.name}: {type(error).__name__}: {error}"


async def _project_rows(
    agent: str,
    stream: faust.StreamT[bytes],
    kind: type[Row],
    write: Callable[[asyncpg.Pool, list[Row]], Awaitable[None]],
) -> None:
    pool = await database()
    async for batch in _batches(stream):
        rows: list[tuple[Message, Row]] = []
        unreadable: list[tuple[Message, str]] = []
        for record in batch:
            message = record.message
            if message.value is None:
                continue  # a row deleted from the table: nothing to project
            try:
                rows.append((message, kind.model_validate_json(message.value)))
            except ValidationError as error:
                unreadable.append((message, f"not a {kind.__name__}: {error}"))
        await dead_letter_all(agent, channels, unreadable)
        await _write_all(agent, _POSTGRESQL, rows, partial(write, pool))


@app.agent(
    channels.changelog(ORDERS_TABLE),
    name="order-status-projection",
)
async def order_status_projection(stream: faust.StreamT[bytes]) -> None:
    await _project_rows("order-status-projection", stream, OrderState, project_orders)


@app.agent(
    channels.changelog(STOCK_TABLE),
    name="stock-level-projection",
)
async def stock_level_projection(stream: faust.StreamT[bytes]) -> None:
    await _project_rows("stock-level-projection", stream, Stock, project_stocks)


_ORDERS_CHANGELOG = changelog_topic(settings.worker_app_id, ORDERS_TABLE)


def _history_events(message: Message) -> Sequence[AnyEvent]:
    """What the history records of one record: an order-keyed event, or the status changes an
    orders-changelog write carries (``OrderUpdate.news``). Raises ContractError."""
    if message.topic != _ORDERS_CHANGELOG:
        return (decode(message.value or b""),)
    if message.value is None:
        return ()  # a row deleted from the table: no news
    return decode_order_update(message.value).status_changes


@app.agent(
    channels.source(
        ORDERS_EVENTS, INVENTORY_EVENTS, PAYMENTS_EVENTS, SHIPPING_EVENTS, tables=(ORDERS_TABLE,)
    ),
    name="order-history",
)
async def order_history(stream: faust.StreamT[bytes]) -> None:
    async with history_client(settings) as client:
        await ensure_history_table(settings, client=client)
        async for batch in _batches(stream):
            events: list[tuple[Message, AnyEvent]] = []
            for record in batch:
                try:
                    found = _history_events(record.message)
                except ContractError:
                    continue  # its own consumer dead-letters it; one copy there is enough
                events.extend((record.message, event) for event in found)
            await _write_all(
                "order-history",
                _DYNAMODB,
                events,
                lambda some: record_events(client, settings, some),
            )
