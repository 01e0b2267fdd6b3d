"""The worker's one PostgreSQL pool, opened (and the schema migrated) by whoever needs it first:
the projections write the read models through it, the notifications read them."""

from __future__ import annotations

import asyncio

import asyncpg

from streams.app import settings
from streams.projections.schema import migrate

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
