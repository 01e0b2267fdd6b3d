"""The projections' PostgreSQL schema, as numbered migrations, and ``migrate`` to apply them.

The DDL lives in Python rather than a ``.sql`` file so that it ships inside the package with no
package-data setup. Each migration runs once and is recorded in ``schema_migrations``; a later
change is a new entry at the end of ``MIGRATIONS``, never an edit of an applied one. Migrations
must stay compatible with the code of the previous release, because during a rolling deploy old
workers keep writing to the new schema.

No Alembic: two tables, applied by the workers at start, need a list and a lock, not a framework.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Final

import asyncpg


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str


MIGRATIONS: Final[tuple[Migration, ...]] = (
    Migration(
        1,
        "orders and their lines",
        """
        CREATE TABLE orders (
            order_id         text PRIMARY KEY,
            user_id          text NOT NULL,
            -- Plain text, not an enum or a CHECK: a status added to the contract must not need
            -- a migration before the workers that emit it can be deployed.
            status           text NOT NULL,
            total_cents      bigint NOT NULL CHECK (total_cents >= 0),
            currency         char(3) NOT NULL,
            shipping_address jsonb NOT NULL,
            tracking_number  text,
            payment_id       text,
            paid_cents       bigint NOT NULL DEFAULT 0 CHECK (paid_cents >= 0),
            refunded_cents   bigint NOT NULL DEFAULT 0 CHECK (refunded_cents >= 0),
            status_reason    text,
            -- The saga's OrderState.version (events applied): the guard against stale writes.
            version          bigint NOT NULL,
            created_at       timestamptz NOT NULL,
            updated_at       timestamptz NOT NULL
        );
        -- "My orders, newest first", paged by (created_at, order_id): order_id breaks ties so
        -- that a page boundary between two orders placed in the same microsecond loses neither.
        CREATE INDEX orders_by_user_newest ON orders (user_id, created_at DESC, order_id DESC);
        -- Admin lists: orders in a status, newest first.
        CREATE INDEX orders_by_status_newest ON orders (status, created_at DESC);

        CREATE TABLE order_lines (
            order_id         text NOT NULL REFERENCES orders (order_id) ON DELETE CASCADE,
            sku              text NOT NULL,
            -- The line's place in the order as placed, so customers see their lines in the
            -- order they chose them rather than sorted by SKU.
            line_no          integer NOT NULL CHECK (line_no >= 1),
            quantity         integer NOT NULL CHECK (quantity > 0),
            unit_price_cents bigint NOT NULL CHECK (unit_price_cents >= 0),
            PRIMARY KEY (order_id, sku)
        );
        """,
    ),
    Migration(
        2,
        "stock levels",
        """
        CREATE TABLE stock_levels (
            sku        text PRIMARY KEY,
            on_hand    integer NOT NULL CHECK (on_hand >= 0),
            reserved   integer NOT NULL CHECK (reserved >= 0),
            available  integer NOT NULL CHECK (available >= 0),
            -- The inventory's Stock.revision: the guard against stale writes.
            revision   bigint NOT NULL,
            updated_at timestamptz NOT NULL DEFAULT now()
        );
        """,
    ),
    Migration(
        3,
        "orders' refund status",
        """
        -- The saga's OrderState.refund_status and refund_failure: NULL until a refund is asked
        -- for, and for the rows older code writes (which names neither column).
        ALTER TABLE orders
            ADD COLUMN refund_status         text,
            ADD COLUMN refund_failure_reason text;
        -- Support's list: the orders whose refund failed, newest first.
        CREATE INDEX orders_with_failed_refunds ON orders (created_at DESC)
            WHERE refund_status = 'failed';
        """,
    ),
)

# Any constant works as long as nothing else in the database uses it; this one spells
# "shopstrm". Held for the migrating transaction so that workers starting together apply each
# migration exactly once instead of racing on CREATE TABLE.
_LOCK_KEY: Final = 0x73686F707374726D

_CREATE_LEDGER: Final = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    integer PRIMARY KEY,
    name       text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)
"""


async def migrate(target: asyncpg.Pool | asyncpg.Connection) -> list[int]:
    """Apply the migrations this database lacks, in order; return the versions applied.

    Idempotent and safe to call from several processes at once. Everything runs in one
    transaction: either the schema reaches the latest version or nothing changes. Versions
    recorded but unknown here (a newer release rolled back) are left alone.
    """
    async with _connection(target) as connection, connection.transaction():
        await connection.execute("SELECT pg_advisory_xact_lock($1)", _LOCK_KEY)
        await connection.execute(_CREATE_LEDGER)
        rows = await connection.fetch("SELECT version FROM schema_migrations")
        done = {row["version"] for row in rows}
        applied: list[int] = []
        for migration in MIGRATIONS:
            if migration.version in done:
                continue
            await connection.execute(migration.sql)
            await connection.execute(
                "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
                migration.version,
                migration.name,
            )
            applied.append(migration.version)
        return applied


@asynccontextmanager
async def _connection(target: asyncpg.Pool | asyncpg.Connection) -> AsyncIterator[Any]:
    # A pool lends a connection for the duration; a connection (or a pool's proxy of one) is
    # used as it is, so callers may run the migration inside their own session settings.
    if isinstance(target, asyncpg.Pool):
        async with target.acquire() as connection:
            yield connection
    else:
        yield target
