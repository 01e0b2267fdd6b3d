"""SnsTopic resources: the shared lifecycle over the sns reconciler."""

from __future__ import annotations

import kopf

from operators.handlers.lifecycle import Runtime, register_kind
from operators.reconcilers.sns import SnsTopics


def register(registry: kopf.OperatorRegistry, runtime: Runtime) -> None:
    register_kind(registry, runtime, SnsTopics())
