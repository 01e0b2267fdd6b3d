"""Integration tests run against the local stack's real parts on loopback.

The stack is started if it is not running (reusing a running one), so `pytest` alone works.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

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
def unique() -> str:
    """A short unique suffix, so tests sharing the stack never see each other's data."""
    return uuid.uuid4().hex[:10]
