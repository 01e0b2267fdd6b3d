"""The worker's one PostgreSQL pool, opened (and the schema migrated) by whoever needs it first:
the projections write the read models through it, the notifications read them. And which
failures of a write are worth waiting out, and which are the data's fault."""

from __future__ import annotations

import asyncio

import asyncpg

from streams.app import settings
from streams.projections.schema import migrate

# The connection, not the data: waited out, however long it takes.
_CONNECTION_TROUBLE = (
    OSError,
    asyncpg.exceptions.PostgresConnectionError,
    asyncpg.exceptions.InterfaceError,
)

_pool: asyncpg.Pool | None = None
_pool_lock = asyncio.Lock()


async def database() -> asyncpg.Pool:
    global _pool
    async with _pool_lock:
        if _pool is None:
            pool = await asyncpg.create_pool(
                settings.database_url.get_secret_value(), min_size=1, max_size=4
            )
            await migrate(pool)
            _pool = pool
    return _pool


def refused_by_database(error: BaseException) -> bool:
    """Whether PostgreSQL, or asyncpg before sending it, refused a write for the values it
    carries: a data exception (SQLSTATE class 22: a NUL in text, a number out of a column's
    range, ...) or an integrity constraint (class 23). Writing the same values again fails
    again, whatever the database's health."""
    if isinstance(error, asyncpg.exceptions.PostgresError):
        return str(error.sqlstate or "")[:2] in {"22", "23"}
    # asyncpg's own refusal of an argument it cannot encode is a ValueError (and an
    # InterfaceError, which is otherwise connection trouble).
    return isinstance(error, ValueError)


def connection_trouble(error: BaseException) -> bool:
    """Whether a write failed for the connection rather than the data: try it again later."""
    return isinstance(error, _CONNECTION_TROUBLE) and not refused_by_database(error)
