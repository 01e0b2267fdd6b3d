from __future__ import annotations

import asyncpg

from shopstream.settings import Settings


async def test_asyncpg_round_trip_writes_and_reads_back_rows(
    stack_settings: Settings, unique: str
) -> None:
    connection = await asyncpg.connect(stack_settings.database_url.get_secret_value())
    try:
        table = f"plumbing_{unique}"
        await connection.execute(f"CREATE TABLE {table} (id int PRIMARY KEY, note text)")
        try:
            await connection.executemany(
                f"INSERT INTO {table} VALUES ($1, $2)", [(1, "first"), (2, "second")]
            )
            rows = await connection.fetch(f"SELECT id, note FROM {table} ORDER BY id")
        finally:
            await connection.execute(f"DROP TABLE {table}")
    finally:
        await connection.close()
    assert [tuple(row) for row in rows] == [(1, "first"), (2, "second")]
