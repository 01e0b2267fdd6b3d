"""KafkaTopic: create, grow partitions, set topic configs; never shrink, never re-replicate."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from operators.problems import Refused
from operators.specs import KafkaTopicSpec


@dataclass(frozen=True, slots=True)
class TopicState:
    partitions: int
    replication_factor: int
    config: Mapping[str, str]  # the topic-level overrides only, not the broker's defaults


@dataclass(frozen=True, slots=True)
class CreateTopic:
    name: str
    partitions: int
    replication_factor: int | None
    config: Mapping[str, str]

    def describe(self) -> str:
        return f"created topic {self.name} with {self.partitions} partitions"


@dataclass(frozen=True, slots=True)
class AddPartitions:
    name: str
    total: int

    def describe(self) -> str:
        return f"grew topic {self.name} to {self.total} partitions"


@dataclass(frozen=True, slots=True)
class SetConfig:
    """The complete set of topic-level overrides: keys the spec does not name go back to the
    broker's defaults, so the spec is the whole truth about the topic's config."""

    name: str
    config: Mapping[str, str]

    def describe(self) -> str:
        return f"set the configs of topic {self.name} to {dict(self.config)}"


Action = CreateTopic | AddPartitions | SetConfig


def plan(desired: KafkaTopicSpec, actual: TopicState | None) -> list[Action]:
    name = desired.topic_name
    if actual is None:
        return [CreateTopic(name, desired.partitions, desired.replication_factor, desired.config)]
    if desired.partitions < actual.partitions:
        raise Refused(
            "PartitionsCannotShrink",
            f"topic {name} has {actual.partitions} partitions and Kafka cannot remove any; "
            f"spec.partitions {desired.partitions} was not applied (set it to at least "
            f"{actual.partitions})",
        )
    if (
        desired.replication_factor is not None
        and desired.replication_factor != actual.replication_factor
    ):
        raise Refused(
            "ReplicationFactorMismatch",
            f"topic {name} has replication factor {actual.replication_factor}, the spec asks "
            f"{desired.replication_factor}; changing it needs a partition reassignment, which "
            "this operator does not do",
        )
    actions: list[Action] = []
    if desired.partitions > actual.partitions:
        actions.append(AddPartitions(name, desired.partitions))
    if dict(desired.config) != dict(actual.config):
        actions.append(SetConfig(name, desired.config))
    return actions
