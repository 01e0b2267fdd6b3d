from __future__ import annotations

import asyncio
from typing import Any

import asyncpg

from shopstream.settings import Settings
from streams.projections.schema import MIGRATIONS, migrate

LATEST = [migration.version for migration in MIGRATIONS]


async def _connect(settings: Settings, schema: str) -> Any:
    return await asyncpg.connect(
        settings.database_url.get_secret_value(), server_settings={"search_path": schema}
    )


async def test_migrate_creates_the_schema_and_a_second_run_changes_nothing(
    stack_settings: Settings, empty_schema: str
) -> None:
    connection = await _connect(stack_settings, empty_schema)
    try:
        first = await migrate(connection)
        second = await migrate(connection)
        tables = await connection.fetch(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = $1",
            empty_schema,
        )
        ledger = await connection.fetch("SELECT version FROM schema_migrations")
    finally:
        await connection.close()
    assert (first, second) == (LATEST, [])
    assert {row["table_name"] for row in tables} == {
        "orders",
        "order_lines",
        "stock_levels",
        "schema_migrations",
    }
    assert [row["version"] for row in ledger] == LATEST


async def test_workers_migrating_at_once_apply_each_migration_exactly_once(
    stack_settings: Settings, empty_schema: str
) -> None:
    connections = [await _connect(stack_settings, empty_schema) for _ in range(4)]
    try:
        results = await asyncio.gather(*(migrate(c) for c in connections))
    finally:
        await asyncio.gather(*(c.close() for c in connections))
    assert sorted(results) == [[], [], [], LATEST]


async def test_migrating_an_up_to_date_database_through_a_pool_is_a_no_op(pool: Any) -> None:
    assert await migrate(pool) == []
