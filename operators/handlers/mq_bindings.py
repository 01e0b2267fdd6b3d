"""MqBinding resources: the shared lifecycle over the rabbitmq reconciler."""

from __future__ import annotations

import kopf

from operators.handlers.lifecycle import Runtime, register_kind
from operators.reconcilers.rabbitmq import MqBindings


def register(registry: kopf.OperatorRegistry, runtime: Runtime) -> None:
    register_kind(registry, runtime, MqBindings())
