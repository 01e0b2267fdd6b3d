from __future__ import annotations

import pytest

from operators.decisions.rabbitmq import (
    Bind,
    Binding,
    DeclareExchange,
    DeclareQueue,
    DeleteQueue,
    ExchangeState,
    QueueState,
    Unbind,
    desired_bindings,
    mqtt_routing_key,
    plan,
)
from operators.problems import Refused
from operators.specs import BindingSpec, ExchangeSpec, MqBindingSpec, QueueSpec

LABELS = QueueSpec("labels", True, {"x-queue-type": "quorum"})
SPEC = MqBindingSpec(
    ExchangeSpec("shipping", "topic", True),
    (LABELS,),
    (BindingSpec("labels", "order.paid", {}),),
    ("devices/+/scan",),
)
EXCHANGE = ExchangeState("topic", True)
QUEUES = {"labels": QueueState(True, {"x-queue-type": "quorum"})}


def test_mqtt_filters_become_amqp_topic_patterns() -> None:
    assert mqtt_routing_key("devices/+/scan") == "devices.*.scan"
    assert mqtt_routing_key("devices/#") == "devices.#"


def test_from_nothing_everything_is_declared_and_bound() -> None:
    actions = plan(SPEC, None, {}, [], set())
    assert actions == [
        DeclareExchange(SPEC.exchange),
        DeclareQueue(LABELS),
        *(Bind(binding) for binding in desired_bindings(SPEC)),
    ]


def test_a_complete_setup_needs_nothing() -> None:
    assert plan(SPEC, EXCHANGE, QUEUES, desired_bindings(SPEC), {"labels"}) == []


def test_a_deleted_binding_is_bound_again() -> None:
    queue_binding, mqtt_binding = desired_bindings(SPEC)
    assert plan(SPEC, EXCHANGE, QUEUES, [mqtt_binding], {"labels"}) == [Bind(queue_binding)]


def test_a_stray_binding_to_our_queue_is_removed_but_others_queues_are_left_alone() -> None:
    stray = Binding("shipping", "queue", "labels", "order.old", {}, "order.old")
    foreign = Binding("shipping", "queue", "audit", "x", {}, "x")
    bindings = [*desired_bindings(SPEC), stray, foreign]
    assert plan(SPEC, EXCHANGE, QUEUES, bindings, {"labels"}) == [Unbind(stray)]


def test_a_queue_dropped_from_the_spec_is_deleted_if_it_was_ours() -> None:
    queues = {**QUEUES, "old": QueueState(True, {})}
    assert plan(SPEC, EXCHANGE, queues, desired_bindings(SPEC), {"labels", "old"}) == [
        DeleteQueue("old")
    ]


def test_a_queue_with_other_arguments_is_refused_not_recreated() -> None:
    queues = {"labels": QueueState(True, {"x-queue-type": "classic"})}
    with pytest.raises(Refused) as refused:
        plan(SPEC, EXCHANGE, queues, [], {"labels"})
    assert refused.value.reason == "QueueMismatch"


def test_an_exchange_of_another_type_is_refused() -> None:
    with pytest.raises(Refused) as refused:
        plan(SPEC, ExchangeState("direct", True), QUEUES, [], set())
    assert refused.value.reason == "ExchangeMismatch"
