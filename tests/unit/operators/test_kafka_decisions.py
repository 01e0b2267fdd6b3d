from __future__ import annotations

import pytest

from operators.decisions.kafka import AddPartitions, CreateTopic, SetConfig, TopicState, plan
from operators.problems import Refused
from operators.specs import KafkaTopicSpec


def spec(partitions: int = 3, factor: int | None = None, **config: str) -> KafkaTopicSpec:
    return KafkaTopicSpec("orders", partitions, factor, config)


def test_an_absent_topic_is_created_with_partitions_and_config() -> None:
    assert plan(spec(3, None, **{"retention.ms": "1000"}), None) == [
        CreateTopic("orders", 3, None, {"retention.ms": "1000"})
    ]


def test_a_topic_as_specified_needs_nothing() -> None:
    assert plan(spec(3, 1), TopicState(3, 1, {})) == []


def test_partitions_grow_to_the_spec() -> None:
    assert plan(spec(6), TopicState(3, 1, {})) == [AddPartitions("orders", 6)]


def test_partitions_never_shrink_and_the_refusal_says_by_how_much() -> None:
    with pytest.raises(Refused) as refused:
        plan(spec(2), TopicState(3, 1, {}))
    assert refused.value.reason == "PartitionsCannotShrink"
    assert "has 3 partitions" in refused.value.message
    assert "at least 3" in refused.value.message


def test_a_different_replication_factor_is_refused_not_reassigned() -> None:
    with pytest.raises(Refused) as refused:
        plan(spec(3, 3), TopicState(3, 1, {}))
    assert refused.value.reason == "ReplicationFactorMismatch"


def test_an_unset_replication_factor_accepts_whatever_the_topic_has() -> None:
    assert plan(spec(3, None), TopicState(3, 3, {})) == []


def test_config_drift_sets_the_whole_spec_config_back() -> None:
    actual = TopicState(3, 1, {"retention.ms": "5", "cleanup.policy": "compact"})
    assert plan(spec(3, None, **{"retention.ms": "1000"}), actual) == [
        SetConfig("orders", {"retention.ms": "1000"})
    ]


def test_growing_and_reconfiguring_happen_in_one_pass() -> None:
    actions = plan(spec(4, None, **{"retention.ms": "1"}), TopicState(3, 1, {}))
    assert [type(action) for action in actions] == [AddPartitions, SetConfig]
