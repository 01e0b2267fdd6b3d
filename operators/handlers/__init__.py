"""kopf handlers: one module per kind, all built by ``lifecycle.register`` on one registry."""

from __future__ import annotations

import kopf

from operators.handlers import kafka_topics, mq_bindings, sns_topics, sqs_queues
from operators.handlers.lifecycle import OperatorConfig, Runtime, register_runtime


def register_all(registry: kopf.OperatorRegistry, config: OperatorConfig) -> Runtime:
    runtime = register_runtime(registry, config)
    for kind in (kafka_topics, sqs_queues, sns_topics, mq_bindings):
        kind.register(registry, runtime)
    return runtime
