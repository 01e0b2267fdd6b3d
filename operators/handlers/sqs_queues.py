"""SqsQueue resources: the shared lifecycle over the sqs reconciler."""

from __future__ import annotations

import kopf

from operators.handlers.lifecycle import Runtime, register_kind
from operators.reconcilers.sqs import SqsQueues


def register(registry: kopf.OperatorRegistry, runtime: Runtime) -> None:
    register_kind(registry, runtime, SqsQueues())
