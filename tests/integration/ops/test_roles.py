"""The image's entry point against the real PostgreSQL: the migrate role (the chart's
pre-install/pre-upgrade Job) brings an empty schema to the latest version, then changes nothing."""

from __future__ import annotations

import asyncio
import json
import os
import sys

import asyncpg

from shopstream.settings import REPO_ROOT, Settings


async def _migrate(settings: Settings, schema: str) -> list[int]:
    # asyncpg hands unknown query parameters of the URL to the server as settings.
    url = f"{settings.database_url.get_secret_value()}?search_path={schema}"
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "ops.roles",
        "migrate",
        cwd=REPO_ROOT,
        env={**os.environ, "SHOPSTREAM_DATABASE_URL": url, "SHOPSTREAM_ENVIRONMENT": "production"},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 0, output.decode()[-2000:]
    [line] = [json.loads(text) for text in output.decode().splitlines() if "migrated" in text]
    applied: list[int] = line["applied"]
    return applied


async def test_the_migrate_role_creates_the_schema_and_a_second_run_changes_nothing(
    stack_settings: Settings, empty_schema: str
) -> None:
    first = await _migrate(stack_settings, empty_schema)
    assert first and first == sorted(first)
    assert await _migrate(stack_settings, empty_schema) == []
    connection = await asyncpg.connect(stack_settings.database_url.get_secret_value())
    try:
        tables = {
            row["table_name"]
            for row in await connection.fetch(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = $1",
                empty_schema,
            )
        }
    finally:
        await connection.close()
    assert {"schema_migrations", "users", "outbox"} <= tables
