"""Waiting for what the stack does in its own time: read models, consumers, operators."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def eventually(
    check: Callable[[], Awaitable[T | None]],
    what: str,
    timeout_s: float = 30.0,
    explain: Callable[[], str] = lambda: "",
) -> T:
    """Poll ``check`` until it returns something truthy, and return that; fail after
    ``timeout_s``, with ``explain()`` in the message."""
    deadline = time.monotonic() + timeout_s
    while True:
        result = await check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s}s waiting for {what}\n{explain()}")
        await asyncio.sleep(0.2)
