from __future__ import annotations

import pytest

from operators import specs
from operators.problems import Refused

CONNECTION = {"connectionSecretRef": {"name": "aws"}}


def test_management_leaves_the_policy_unset_without_adoption_in_the_own_namespace() -> None:
    managed = specs.management("shop", CONNECTION)
    assert managed == specs.Management(specs.SecretRef("aws", "shop"), None, False)
    named = {"connectionSecretRef": {"name": "aws", "namespace": "shop"}}
    assert specs.management("shop", named).connection == specs.SecretRef("aws", "shop")


def test_a_connection_secret_in_another_namespace_is_refused() -> None:
    foreign = {"connectionSecretRef": {"name": "aws", "namespace": "payments"}}
    with pytest.raises(Refused) as refused:
        specs.management("shop", foreign)
    assert refused.value.reason == "InvalidSpec"
    assert "must be in this resource's own namespace ('shop')" in refused.value.message


CLAIMED = {"queue:made", "queue:taken"}
ADOPTED = {"queue:taken"}


def test_without_a_policy_what_was_adopted_is_kept_and_what_was_made_goes() -> None:
    assert specs.kept_on_delete(None, CLAIMED, ADOPTED) == {"queue:taken"}
    assert specs.kept_on_delete(None, CLAIMED, set()) == set()


def test_an_explicit_policy_decides_for_everything_claimed() -> None:
    assert specs.kept_on_delete("delete", CLAIMED, ADOPTED) == set()
    assert specs.kept_on_delete("retain", CLAIMED, ADOPTED) == CLAIMED


def test_a_resource_without_a_connection_is_invalid() -> None:
    with pytest.raises(Refused, match="connectionSecretRef"):
        specs.management("shop", {})


def test_names_default_to_metadata_name_with_fifo_suffix() -> None:
    assert specs.sqs_queue("orders", {"fifo": True}).queue_name == "orders.fifo"
    assert specs.kafka_topic("orders.events", {}).topic_name == "orders.events"


def test_a_metadata_name_that_sqs_cannot_take_says_to_set_queue_name() -> None:
    with pytest.raises(Refused) as refused:
        specs.sqs_queue("orders.dlq", {})
    assert refused.value.reason == "InvalidSpec"
    assert "set spec.queueName" in refused.value.message


def test_a_fifo_name_must_match_the_fifo_flag() -> None:
    with pytest.raises(Refused, match="fifo"):
        specs.sns_topic("t", {"topicName": "t.fifo", "fifo": False})


def test_a_subscription_needs_exactly_one_target() -> None:
    both = {"name": "s", "protocol": "sqs", "endpoint": "arn", "queueRef": {"name": "q"}}
    with pytest.raises(Refused, match="exactly one"):
        specs.sns_topic("t", {"subscriptions": [both]})


def test_a_quorum_queue_cannot_be_transient() -> None:
    spec = {
        "exchange": {"name": "e", "type": "topic"},
        "queues": [{"name": "q", "durable": False, "arguments": {"x-queue-type": "quorum"}}],
    }
    with pytest.raises(Refused, match="quorum"):
        specs.mq_binding(spec)


def test_a_binding_must_name_a_declared_queue() -> None:
    spec = {"exchange": {"name": "e", "type": "topic"}, "bindings": [{"queue": "nope"}]}
    with pytest.raises(Refused, match=r"not in spec\.queues"):
        specs.mq_binding(spec)


def test_config_values_must_be_strings() -> None:
    with pytest.raises(Refused, match="strings"):
        specs.kafka_topic("t", {"config": {"retention.ms": 1000}})
