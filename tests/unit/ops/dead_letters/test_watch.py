from __future__ import annotations

from prometheus_client import REGISTRY

from ops.dead_letters.model import Summary
from ops.dead_letters.watch import emf_record, export


def _waiting(queue: str) -> float | None:
    return REGISTRY.get_sample_value("shopstream_dead_letters", {"queue": queue})


def test_gauges_follow_the_summaries_and_drop_queues_that_are_gone() -> None:
    exported = export([Summary("sqs/a-dlq", 3, 12.5), Summary("sqs/b-dlq", 0, None)], set())
    assert _waiting("sqs/a-dlq") == 3
    age = {"queue": "sqs/a-dlq"}
    assert REGISTRY.get_sample_value("shopstream_dead_letter_oldest_age_seconds", age) == 12.5
    export([Summary("sqs/b-dlq", 1, 1.0)], exported)
    assert _waiting("sqs/a-dlq") is None and _waiting("sqs/b-dlq") == 1


def test_an_emf_record_declares_each_figure_it_carries_by_queue() -> None:
    record = emf_record(Summary("kafka/shopstream.dead-letters", 4, 30.0), 1_700_000_000_000)
    directive = record["_aws"]["CloudWatchMetrics"][0]
    assert directive["Namespace"] == "shopstream"
    assert record["_aws"]["Timestamp"] == 1_700_000_000_000
    for dimensions in directive["Dimensions"]:
        assert all(isinstance(record[name], str) for name in dimensions)
    figures = {metric["Name"]: record[metric["Name"]] for metric in directive["Metrics"]}
    assert figures == {"DeadLetters": 4, "DeadLetterOldestAgeSeconds": 30.0}
    assert record["Queue"] == "kafka/shopstream.dead-letters"


def test_an_empty_queue_reports_an_age_of_zero() -> None:
    assert emf_record(Summary("sqs/a-dlq", 0, None), 0)["DeadLetterOldestAgeSeconds"] == 0.0
