"""MqBinding: an exchange, its queues, the bindings between them, and MQTT topic filters bound
from ``amq.topic`` (where RabbitMQ's MQTT plugin publishes) into the exchange.

Exchanges and queues cannot change type, durability or arguments once declared: a mismatch
is refused with the reason, never "fixed" by deleting a queue that may hold messages.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from operators.problems import Refused
from operators.specs import ExchangeSpec, MqBindingSpec, QueueSpec

MQTT_EXCHANGE = "amq.topic"


def mqtt_routing_key(topic_filter: str) -> str:
    """An MQTT topic filter as the AMQP routing-key pattern the MQTT plugin matches:
    levels split by '.' instead of '/', '+' (one level) as '*', '#' as is."""
    return ".".join("*" if level == "+" else level for level in topic_filter.split("/"))


@dataclass(frozen=True, slots=True)
class ExchangeState:
    type: str
    durable: bool


@dataclass(frozen=True, slots=True)
class QueueState:
    durable: bool
    arguments: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Binding:
    source: str
    destination_type: Literal["queue", "exchange"]
    destination: str
    routing_key: str
    arguments: Mapping[str, Any]
    properties_key: str = ""  # how the management API names an existing binding

    @property
    def identity(self) -> tuple[str, str, str, str, str]:
        return (
            self.source,
            self.destination_type,
            self.destination,
            self.routing_key,
            json.dumps(self.arguments, sort_keys=True),
        )


@dataclass(frozen=True, slots=True)
class DeclareExchange:
    exchange: ExchangeSpec

    def describe(self) -> str:
        return f"declared exchange {self.exchange.name}"


@dataclass(frozen=True, slots=True)
class DeclareQueue:
    queue: QueueSpec

    def describe(self) -> str:
        return f"declared queue {self.queue.name}"


@dataclass(frozen=True, slots=True)
class DeleteQueue:
    name: str

    def describe(self) -> str:
        return f"deleted queue {self.name}, no longer in the spec"


@dataclass(frozen=True, slots=True)
class Bind:
    binding: Binding

    def describe(self) -> str:
        b = self.binding
        return f"bound {b.source} -> {b.destination} ({b.routing_key or 'no key'})"


@dataclass(frozen=True, slots=True)
class Unbind:
    binding: Binding

    def describe(self) -> str:
        b = self.binding
        return f"unbound {b.source} -> {b.destination} ({b.routing_key or 'no key'})"


Action = DeclareExchange | DeclareQueue | DeleteQueue | Bind | Unbind


def desired_bindings(spec: MqBindingSpec) -> list[Binding]:
    exchange = spec.exchange.name
    return [
        *(Binding(exchange, "queue", b.queue, b.routing_key, b.arguments) for b in spec.bindings),
        *(
            Binding(MQTT_EXCHANGE, "exchange", exchange, mqtt_routing_key(topic), {})
            for topic in spec.mqtt_topics
        ),
    ]


def plan(
    spec: MqBindingSpec,
    exchange: ExchangeState | None,
    queues: Mapping[str, QueueState],
    bindings: Sequence[Binding],
    owned_queues: Collection[str],
) -> list[Action]:
    """``bindings``: those from our exchange, and from amq.topic to it, as they are now.
    ``owned_queues``: queues this resource declared or adopted before."""
    actions: list[Action] = []
    if exchange is None:
        actions.append(DeclareExchange(spec.exchange))
    elif (exchange.type, exchange.durable) != (spec.exchange.type, spec.exchange.durable):
        raise Refused(
            "ExchangeMismatch",
            f"exchange {spec.exchange.name} is {exchange.type}, durable={exchange.durable}; the "
            f"spec asks {spec.exchange.type}, durable={spec.exchange.durable}, and an exchange "
            "cannot change: delete it, or change the spec",
        )
    for queue in spec.queues:
        state = queues.get(queue.name)
        if state is None:
            actions.append(DeclareQueue(queue))
        elif state.durable != queue.durable or dict(state.arguments) != dict(queue.arguments):
            raise Refused(
                "QueueMismatch",
                f"queue {queue.name} has durable={state.durable}, arguments "
                f"{dict(state.arguments)}; the spec asks durable={queue.durable}, arguments "
                f"{dict(queue.arguments)}, and a queue cannot change: drain and delete it, "
                "or change the spec",
            )
    wanted_queues = {queue.name for queue in spec.queues}
    dropped = sorted(name for name in owned_queues if name not in wanted_queues and name in queues)
    actions.extend(DeleteQueue(name) for name in dropped)
    wanted = desired_bindings(spec)
    present = {binding.identity for binding in bindings}
    actions.extend(Bind(binding) for binding in wanted if binding.identity not in present)
    wanted_identities = {binding.identity for binding in wanted}
    ours = set(owned_queues) | wanted_queues
    actions.extend(
        Unbind(binding)
        for binding in bindings
        if binding.identity not in wanted_identities
        and binding.destination not in dropped  # goes with its queue
        and (
            (binding.destination_type == "queue" and binding.destination in ours)
            or binding.source == MQTT_EXCHANGE
        )
    )
    return actions
