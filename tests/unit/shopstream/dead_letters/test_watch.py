from __future__ import annotations

from prometheus_client import REGISTRY

from shopstream.dead_letters.model import Summary
from shopstream.dead_letters.watch import export


def _waiting(queue: str) -> float | None:
    return REGISTRY.get_sample_value("shopstream_dead_letters", {"queue": queue})


def test_gauges_follow_the_summaries_and_drop_queues_that_are_gone() -> None:
    exported = export([Summary("sqs/a-dlq", 3, 12.5), Summary("sqs/b-dlq", 0, None)], set())
    assert _waiting("sqs/a-dlq") == 3
    age = {"queue": "sqs/a-dlq"}
    assert REGISTRY.get_sample_value("shopstream_dead_letter_oldest_age_seconds", age) == 12.5
    export([Summary("sqs/b-dlq", 1, 1.0)], exported)
    assert _waiting("sqs/a-dlq") is None and _waiting("sqs/b-dlq") == 1
