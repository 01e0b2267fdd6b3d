"""Integration tests run against the local stack's real parts on loopback.

The stack is started if it is not running (reusing a running one), so `pytest` alone works.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest

from shopstream.settings import Settings, get_settings
from stack import control
from stack.environment import use_local_stack


@pytest.fixture(scope="session")
async def stack_settings() -> AsyncIterator[Settings]:
    settings = use_local_stack(get_settings())
    await control.up(settings, control.select(settings), lambda message: None)
    yield settings


@pytest.fixture
async def empty_schema(stack_settings: Settings, unique: str) -> AsyncIterator[str]:
    """A PostgreSQL schema of the test's own, empty, so a first run of migrations shows."""
    name = f"empty_{unique}"
    admin = await asyncpg.connect(stack_settings.database_url.get_secret_value())
    try:
        await admin.execute(f"CREATE SCHEMA {name}")
        yield name
        await admin.execute(f"DROP SCHEMA {name} CASCADE")
    finally:
        await admin.close()


@pytest.fixture
def unique() -> str:
    """A short unique suffix, so tests sharing the stack never see each other's data."""
    return uuid.uuid4().hex[:10]
