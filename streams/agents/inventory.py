"""The inventory agent: one Stock per SKU in a RocksDB table, its single writer.

Commands for a SKU are keyed by sku, so one partition, and in it this agent, applies every
change to that SKU in order: check-and-decrement is one step here, and no SKU is oversold.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime

import faust

from streams.agents.processing import Outcome, StagedTable, applied
from streams.app import app, channels, table
from streams.contract import (
    AdjustStock,
    AnyEvent,
    CommitStock,
    ReleaseStock,
    ReserveStock,
)
from streams.domain.inventory import AdjustmentRefused, Stock, apply_command
from streams.topics import INVENTORY_COMMANDS, STOCK_TABLE

stock_table = table(STOCK_TABLE)
stocks = StagedTable.of_model(stock_table, Stock)


def load(sku: str) -> Stock:
    return stocks.get(sku.encode()) or Stock(sku=sku)


async def apply(event: AnyEvent, now: datetime) -> Outcome:
    if not isinstance(event, ReserveStock | ReleaseStock | CommitStock | AdjustStock):
        return Outcome(refused=f"the inventory agent does not consume {event.type}")
    try:
        applied = apply_command(load(event.key), event, now)
    except AdjustmentRefused as refusal:
        return Outcome(refused=refusal.reason)
    if applied is None:
        return Outcome(duplicate=True)
    stock, answer = applied
    # Stored once the answer is acknowledged; its changelog is what the stock read model follows.
    stocks.stage(stock.sku.encode(), stock)
    return Outcome(events=() if answer is None else (answer,))


@app.agent(channels.source(INVENTORY_COMMANDS), name="inventory")
async def inventory_agent(stream: faust.StreamT[bytes]) -> AsyncIterator[str]:
    async for result in applied("inventory", stream, channels, apply, [stocks]):
        yield result
