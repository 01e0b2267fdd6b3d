"""One readiness check serves every caller for a while, and concurrent callers share it."""

from __future__ import annotations

import asyncio

from api.readiness import Check, Readiness
from shopstream.settings import Settings


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _counting(calls: list[str], name: str, fails: bool = False) -> Check:
    async def check() -> str:
        calls.append(name)
        await asyncio.sleep(0.01)  # long enough for every other caller to arrive meanwhile
        if fails:
            raise RuntimeError("connection refused")
        return "fine"

    return check


async def test_a_burst_of_callers_costs_one_check_per_dependency() -> None:
    calls: list[str] = []
    checks = {"postgres": ("db:5432", _counting(calls, "postgres"))}
    readiness = Readiness(checks, Settings(readiness_cache_s=2.0), Clock())
    answers = await asyncio.gather(*(readiness.results() for _ in range(200)))
    assert calls == ["postgres"]
    assert all(answer == answers[0] for answer in answers)
    assert answers[0][0].ok


async def test_the_result_is_kept_for_the_cache_time_then_checked_again() -> None:
    calls: list[str] = []
    clock = Clock()
    checks = {"kafka": ("k:9092", _counting(calls, "kafka", fails=True))}
    readiness = Readiness(checks, Settings(readiness_cache_s=2.0), clock)
    first = await readiness.results()
    clock.now += 1.9
    await readiness.results()
    assert calls == ["kafka"]
    clock.now += 0.1
    again = await readiness.results()
    assert calls == ["kafka", "kafka"]
    assert not first[0].ok
    assert again[0].detail == "RuntimeError: connection refused"
