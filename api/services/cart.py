"""The cart, one per user in PostgreSQL: lines capped by the stock the inventory reports.

The cap applies when a line is written and is shown again when the cart is read: stock sold
while the cart waited turns into a line's ``problem`` ("sold out", "only 2 left"), which the
checkout shows before any order is placed. The inventory agent still decides at order time;
the cart only spares the customer an order that would be refused.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import asyncpg

from api.problem_types import ProblemType
from api.problems import ApiError
from api.schemas.cart import CartLineAdd, CartLinePublic, CartPublic

_LINES: Final = """
SELECT c.sku, c.quantity, p.name, p.price_cents, p.currency, p.deleted_at IS NOT NULL AS gone,
       coalesce(s.available, 0) AS available
  FROM cart_lines AS c
  JOIN products AS p ON p.sku = c.sku
  LEFT JOIN stock_levels AS s ON s.sku = c.sku
 WHERE c.user_id = $1
 ORDER BY c.added_at, c.sku
"""
_UPSERT: Final = """
INSERT INTO cart_lines (user_id, sku, quantity) VALUES ($1, $2, $3)
ON CONFLICT (user_id, sku) DO UPDATE SET quantity = EXCLUDED.quantity, updated_at = now()
"""
_MAX_QUANTITY: Final = 100


def line_problem(name: str, quantity: int, available: int, gone: bool) -> str | None:
    if gone:
        return f"{name} is no longer sold; remove it to check out."
    if available <= 0:
        return f"{name} has sold out; remove it to check out."
    if quantity > available:
        return f"Only {available} of {name} left; lower the quantity to check out."
    return None


async def get_cart(
    pool: asyncpg.Pool, user_id: str, currency: str, notices: Sequence[str] = ()
) -> CartPublic:
    lines = [
        CartLinePublic(
            sku=row["sku"],
            name=row["name"],
            quantity=row["quantity"],
            unit_price_cents=row["price_cents"],
            subtotal_cents=row["price_cents"] * row["quantity"],
            currency=row["currency"],
            available=row["available"],
            problem=line_problem(row["name"], row["quantity"], row["available"], row["gone"]),
        )
        for row in await pool.fetch(_LINES, user_id)
    ]
    return CartPublic(
        lines=lines,
        total_cents=sum(line.subtotal_cents for line in lines),
        currency=lines[0].currency if lines else currency,
        orderable=bool(lines) and all(line.problem is None for line in lines),
        notices=list(notices),
    )


async def _orderable(connection: asyncpg.Connection, sku: str) -> tuple[str, int]:
    row = await connection.fetchrow(
        "SELECT p.name, coalesce(s.available, 0) AS available FROM products AS p "
        "LEFT JOIN stock_levels AS s ON s.sku = p.sku "
        "WHERE p.sku = $1 AND p.deleted_at IS NULL",
        sku,
    )
    if row is None:
        raise ApiError(ProblemType.PRODUCT_NOT_FOUND, f"No product {sku}.")
    return row["name"], row["available"]


async def _check_room(
    connection: asyncpg.Connection, user_id: str, sku: str, max_lines: int
) -> None:
    count = await connection.fetchval(
        "SELECT count(*) FROM cart_lines WHERE user_id = $1 AND sku <> $2", user_id, sku
    )
    if count >= max_lines:
        raise ApiError(
            ProblemType.CART_FULL, f"A cart holds at most {max_lines} different products."
        )


async def set_line(
    pool: asyncpg.Pool, user_id: str, sku: str, quantity: int, max_lines: int
) -> list[str]:
    """Hold ``quantity`` of ``sku`` (fewer if fewer are left); the notices say what was capped."""
    async with pool.acquire() as connection, connection.transaction():
        name, available = await _orderable(connection, sku)
        if available <= 0:
            raise ApiError(ProblemType.OUT_OF_STOCK, f"{name} is out of stock.")
        await _check_room(connection, user_id, sku, max_lines)
        held = min(quantity, available)
        await connection.execute(_UPSERT, user_id, sku, held)
    if held < quantity:
        return [f"Only {available} of {name} left: your cart holds {held}."]
    return []


async def merge(
    pool: asyncpg.Pool, user_id: str, lines: Sequence[CartLineAdd], max_lines: int
) -> list[str]:
    """Add a guest's lines to the account's cart; what cannot be added is said, not refused."""
    notices: list[str] = []
    async with pool.acquire() as connection, connection.transaction():
        for line in lines:
            row = await connection.fetchrow(
                "SELECT p.name, coalesce(s.available, 0) AS available, "
                "coalesce(c.quantity, 0) AS held, "
                "(SELECT count(*) FROM cart_lines WHERE user_id = $1 AND sku <> $2) AS others "
                "FROM products AS p LEFT JOIN stock_levels AS s ON s.sku = p.sku "
                "LEFT JOIN cart_lines AS c ON c.user_id = $1 AND c.sku = p.sku "
                "WHERE p.sku = $2 AND p.deleted_at IS NULL",
                user_id,
                line.sku,
            )
            if row is None:
                notices.append(f"{line.sku} is no longer sold and was left out.")
                continue
            name, available = row["name"], row["available"]
            if available <= 0:
                notices.append(f"{name} is out of stock and was left out.")
                continue
            if row["others"] >= max_lines:
                notices.append(f"{name} was left out: a cart holds {max_lines} products.")
                continue
            wanted = min(row["held"] + line.quantity, _MAX_QUANTITY)
            held = min(wanted, available)
            if held < wanted:
                notices.append(f"Only {available} of {name} left: your cart holds {held}.")
            await connection.execute(_UPSERT, user_id, line.sku, held)
    return notices


async def remove_line(pool: asyncpg.Pool, user_id: str, sku: str) -> None:
    await pool.execute("DELETE FROM cart_lines WHERE user_id = $1 AND sku = $2", user_id, sku)


async def clear(pool: asyncpg.Pool, user_id: str) -> None:
    await pool.execute("DELETE FROM cart_lines WHERE user_id = $1", user_id)
