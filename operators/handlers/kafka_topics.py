"""KafkaTopic resources: the shared lifecycle over the kafka reconciler."""

from __future__ import annotations

import kopf

from operators.handlers.lifecycle import Runtime, register_kind
from operators.reconcilers.kafka import KafkaTopics


def register(registry: kopf.OperatorRegistry, runtime: Runtime) -> None:
    register_kind(registry, runtime, KafkaTopics())
