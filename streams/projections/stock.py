"""Stock levels in PostgreSQL, from the changelog of the inventory's stock table.

What the catalog shows ("only 2 left", "out of stock"). The inventory agent stays the only
writer of stock; this is its read model, guarded by the snapshot's revision so that a replayed
older snapshot never overwrites a newer one.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

import asyncpg
from pydantic import NonNegativeInt

from streams.contract import Record
from streams.domain.inventory import Stock

__all__ = ["StockLevel", "get_stock_levels", "project_stock", "project_stocks"]


class StockLevel(Record):
    sku: str
    on_hand: NonNegativeInt
    reserved: NonNegativeInt
    available: NonNegativeInt


_PROJECT: Final = """
INSERT INTO stock_levels (sku, on_hand, reserved, available, revision, updated_at)
VALUES ($1, $2, $3, $4, $5, now())
ON CONFLICT (sku) DO UPDATE
SET on_hand = EXCLUDED.on_hand, reserved = EXCLUDED.reserved, available = EXCLUDED.available,
    revision = EXCLUDED.revision, updated_at = EXCLUDED.updated_at
WHERE stock_levels.revision < EXCLUDED.revision
RETURNING true
"""


async def project_stock(pool: asyncpg.Pool, stock: Stock) -> bool:
    """Write ``stock`` if it is newer than what is stored; return whether anything changed."""
    written = await pool.fetchval(_PROJECT, *_arguments(stock))
    return bool(written)


async def project_stocks(pool: asyncpg.Pool, stocks: Iterable[Stock]) -> None:
    """``project_stock`` for each in turn, in one round trip and atomically."""
    await pool.executemany(_PROJECT, [_arguments(stock) for stock in stocks])


def _arguments(stock: Stock) -> tuple[str, int, int, int, int]:
    return stock.sku, stock.on_hand, stock.reserved, stock.available, stock.revision


async def get_stock_levels(pool: asyncpg.Pool, skus: Iterable[str]) -> dict[str, StockLevel]:
    """Levels by SKU; a SKU the inventory has never seen is absent (nothing in stock)."""
    rows = await pool.fetch(
        "SELECT sku, on_hand, reserved, available FROM stock_levels WHERE sku = ANY($1::text[])",
        list(skus),
    )
    return {row["sku"]: StockLevel(**dict(row)) for row in rows}
