"""Real PostgreSQL and DynamoDB (moto) for the projection tests.

The database is migrated once per session and shared: tests keep apart by unique order and user
ids. The history table is the session's own, deleted at the end.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from shopstream.settings import Settings
from streams.projections.history import DynamoDBClient, ensure_history_table, history_client
from streams.projections.schema import migrate


@pytest.fixture(scope="session")
async def pool(stack_settings: Settings) -> AsyncIterator[Any]:
    created = await asyncpg.create_pool(
        stack_settings.database_url.get_secret_value(), min_size=1, max_size=8
    )
    try:
        await migrate(created)
        yield created
    finally:
        await created.close()


@pytest.fixture(scope="session")
async def dynamodb(stack_settings: Settings) -> AsyncIterator[DynamoDBClient]:
    async with history_client(stack_settings) as client:
        yield client


@pytest.fixture(scope="session")
async def history_settings(
    stack_settings: Settings, dynamodb: DynamoDBClient
) -> AsyncIterator[Settings]:
    settings = stack_settings.model_copy(
        update={"history_table": f"test-history-{uuid.uuid4().hex[:10]}"}
    )
    await ensure_history_table(settings, client=dynamodb)
    yield settings
    await dynamodb.delete_table(TableName=settings.history_table)
