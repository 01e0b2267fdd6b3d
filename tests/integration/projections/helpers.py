"""Projecting one state at a time, and telling whether it was written."""

from __future__ import annotations

from typing import Any, Final

from streams.domain.order_saga import OrderState
from streams.projections.order_status import project_orders

# xmin is the id of the transaction that wrote the row version: a new one means a new write.
_ROW_WRITER: Final = "SELECT xmin::text FROM orders WHERE order_id = $1"


async def project_one(pool: Any, state: OrderState) -> bool:
    """Project ``state`` as the projection agent does, in a batch of one; return whether the
    order's row was written (a new order, or a state newer than the stored one)."""
    before = await pool.fetchval(_ROW_WRITER, state.order_id)
    await project_orders(pool, [state])
    after = await pool.fetchval(_ROW_WRITER, state.order_id)
    return bool(after != before)
