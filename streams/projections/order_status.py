"""The order status projection in PostgreSQL: the saga's OrderState as rows the gateways read.

Writing. The status projection writes the orders table's rows as its changelog brings them, a
batch at a time::

    await project_orders(pool, [state, ...])

One statement per state (a batch is one round trip, atomic): an upsert of the order row
guarded by ``version``, and, in the same statement, the order's lines. So a reader never sees
an order without its lines, a redelivered or reordered state never rolls a newer one back, and
replaying the whole topic is harmless.

``created_at`` is the ``updated_at`` of the first state projected. The agent projects every
state the changelog holds, and version 1 is the OrderPlaced decision, so that is the time the
order was placed (compaction could only drop it for a projection days behind the saga).

Reading. ``get_order`` and ``list_orders_for_user`` return small typed records; each is one
query. Checking that the order belongs to the caller is the gateway's job (``user_id`` is
on every record).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any, Final

import asyncpg
from pydantic import AwareDatetime, NonNegativeInt

from streams.contract import (
    Address,
    OrderLine,
    OrderStatus,
    Record,
)
from streams.domain.order_saga import OrderState, RefundStatus

__all__ = [
    "OrderDetail",
    "OrderSummary",
    "get_order",
    "list_orders_for_user",
    "project_orders",
]


class OrderSummary(Record):
    """An order as a list shows it."""

    order_id: str
    user_id: str
    status: OrderStatus
    status_reason: str | None
    total_cents: NonNegativeInt
    currency: str
    tracking_number: str | None
    version: NonNegativeInt
    created_at: AwareDatetime
    updated_at: AwareDatetime


class OrderDetail(OrderSummary):
    """One order in full, its lines in the order they were placed."""

    shipping_address: Address
    payment_id: str | None
    paid_cents: NonNegativeInt
    refunded_cents: NonNegativeInt
    # The order's refunds in one word (``OrderState.refund_status``), and why one failed.
    refund_status: RefundStatus | None = None
    refund_failure_reason: str | None = None
    lines: tuple[OrderLine, ...]


# Only what can change after placement is updated; user, lines and total are fixed by
# OrderPlaced, the address changes until a shipment is requested (ShippingAddressChanged).
# status_reason describes the current status: a state that keeps the status and brings no
# reason keeps the old one, a new status without a reason clears it.
# The lines CTE reads from `upserted`, so it writes only when the order row was written, and
# DO NOTHING leaves lines already there untouched: they are written once, with the first state.
_PROJECT: Final = """
WITH upserted AS (
    INSERT INTO orders (
        order_id, user_id, status, total_cents, currency, shipping_address, tracking_number,
        payment_id, paid_cents, refunded_cents, status_reason, version, created_at, updated_at,
        refund_status, refund_failure_reason
    )
    VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $8, $9, $10, $11, $12, $13, $13, $17, $18)
    ON CONFLICT (order_id) DO UPDATE SET
        status = EXCLUDED.status,
        shipping_address = EXCLUDED.shipping_address,
        tracking_number = EXCLUDED.tracking_number,
        payment_id = EXCLUDED.payment_id,
        paid_cents = EXCLUDED.paid_cents,
        refunded_cents = EXCLUDED.refunded_cents,
        refund_status = EXCLUDED.refund_status,
        refund_failure_reason = EXCLUDED.refund_failure_reason,
        status_reason = CASE
            WHEN EXCLUDED.status_reason IS NOT NULL THEN EXCLUDED.status_reason
            WHEN EXCLUDED.status = orders.status THEN orders.status_reason
        END,
        version = EXCLUDED.version,
        updated_at = EXCLUDED.updated_at
    WHERE orders.version < EXCLUDED.version
    RETURNING order_id
), lines AS (
    INSERT INTO order_lines (order_id, line_no, sku, quantity, unit_price_cents)
    SELECT upserted.order_id, line.line_no, line.sku, line.quantity, line.unit_price_cents
    FROM upserted,
         unnest($14::text[], $15::integer[], $16::bigint[])
             WITH ORDINALITY AS line (sku, quantity, unit_price_cents, line_no)
    ON CONFLICT (order_id, sku) DO NOTHING
)
SELECT count(*) FROM upserted
"""

_SUMMARY_COLUMNS: Final = """
    order_id, user_id, status, status_reason, total_cents, currency, tracking_number, version,
    created_at, updated_at
"""

# The lines come back as one JSON array beside the order, so a detail is one round trip.
_GET: Final = f"""
SELECT {_SUMMARY_COLUMNS},
    shipping_address::text AS shipping_address, payment_id, paid_cents, refunded_cents,
    refund_status, refund_failure_reason,
    coalesce(
        (SELECT json_agg(
                    json_build_object(
                        'sku', l.sku,
                        'quantity', l.quantity,
                        'unit_price_cents', l.unit_price_cents
                    )
                    ORDER BY l.line_no
                )
           FROM order_lines AS l
          WHERE l.order_id = orders.order_id),
        '[]'
    )::text AS lines
FROM orders
WHERE order_id = $1
"""  # noqa: S608 - only our own column list is interpolated

_LIST_NEWEST: Final = f"""
SELECT {_SUMMARY_COLUMNS}
FROM orders
WHERE user_id = $1
ORDER BY created_at DESC, order_id DESC
LIMIT $2
"""  # noqa: S608 - only our own column list is interpolated

# Keyset paging: the rows strictly after the cursor order in (created_at, order_id) descending,
# which the (user_id, created_at DESC, order_id DESC) index serves as a range scan. The cursor
# is looked up in the same statement, and only among the user's own orders.
_LIST_BEFORE: Final = f"""
SELECT {_SUMMARY_COLUMNS}
FROM orders
WHERE user_id = $1
  AND (created_at, order_id) < (
        SELECT created_at, order_id FROM orders WHERE order_id = $3 AND user_id = $1
      )
ORDER BY created_at DESC, order_id DESC
LIMIT $2
"""  # noqa: S608 - only our own column list is interpolated


async def project_orders(pool: asyncpg.Pool, states: Iterable[OrderState]) -> None:
    """Write each state that is newer than what is stored, in turn, in one round trip and
    atomically.

    A state without a ``status_reason`` (a row from before the saga kept one) keeps the
    reason stored.
    """
    await pool.executemany(_PROJECT, [_arguments(state) for state in states])


def _arguments(state: OrderState) -> tuple[Any, ...]:
    lines: Sequence[OrderLine] = state.lines
    return (
        state.order_id,
        state.user_id,
        state.status.value,
        state.total_cents,
        state.currency,
        state.address.model_dump_json(),
        state.tracking_number,
        state.payment_id,
        state.paid_cents,
        state.refunded_cents,
        state.status_reason,
        state.version,
        state.updated_at,
        [line.sku for line in lines],
        [line.quantity for line in lines],
        [line.unit_price_cents for line in lines],
        state.refund_status,
        state.refund_failure,
    )


async def get_order(pool: asyncpg.Pool, order_id: str) -> OrderDetail | None:
    """The order with its lines, or ``None`` if it has not been projected (yet)."""
    row = await pool.fetchrow(_GET, order_id)
    if row is None:
        return None
    fields: dict[str, Any] = dict(row)
    fields["shipping_address"] = json.loads(fields["shipping_address"])
    fields["lines"] = json.loads(fields["lines"])
    return OrderDetail.model_validate(fields)


async def list_orders_for_user(
    pool: asyncpg.Pool, user_id: str, limit: int, before: str | None = None
) -> list[OrderSummary]:
    """The user's orders, newest first, at most ``limit`` of them.

    ``before``: the ``order_id`` of the last order of the previous page (as Stripe's
    ``starting_after``); the page then holds the orders placed before it. An id that is not one
    of this user's orders yields an empty page.
    """
    if limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit}")
    if before is None:
        rows = await pool.fetch(_LIST_NEWEST, user_id, limit)
    else:
        rows = await pool.fetch(_LIST_BEFORE, user_id, limit, before)
    return [OrderSummary.model_validate(dict(row)) for row in rows]
