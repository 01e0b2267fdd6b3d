"""Each dead-letter test works on names of its own: a unique prefix for topics and queues."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import pytest

from shopstream.settings import Settings


@pytest.fixture
def isolated(stack_settings: Settings, unique: str) -> Settings:
    return stack_settings.model_copy(update={"topic_prefix": f"dlq-{unique}-"})


async def eventually(
    check: Callable[[], Awaitable[bool]], what: str, timeout_s: float = 60
) -> None:
    deadline = time.monotonic() + timeout_s
    while not await check():
        assert time.monotonic() < deadline, f"not within {timeout_s:.0f}s: {what}"
        await asyncio.sleep(0.2)
