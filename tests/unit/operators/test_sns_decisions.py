from __future__ import annotations

import re

import pytest

from operators.decisions.sns import (
    PENDING,
    Existing,
    SetSubscriptionAttribute,
    Subscribe,
    Unsubscribe,
    Wanted,
    endpoint_refusal,
    plan_subscriptions,
    subscription_attributes,
)
from operators.specs import SubscriptionSpec

QUEUE = "arn:aws:sqs:us-east-1:1:orders"


def wanted(raw: bool = True) -> Wanted:
    spec = SubscriptionSpec("orders", "sqs", None, "orders", {"type": ["A"]}, "MessageBody", raw)
    return Wanted("orders", "sqs", QUEUE, subscription_attributes(spec))


def existing(arn: str = "arn:sub:1", **attributes: str) -> Existing:
    base = {
        "RawMessageDelivery": "true",
        "FilterPolicy": '{ "type": ["A"] }',
        "FilterPolicyScope": "MessageBody",
    }
    return Existing(arn, "sqs", QUEUE, {**base, **attributes})


def test_a_missing_subscription_is_made_with_its_attributes() -> None:
    assert plan_subscriptions([wanted()], [], {}) == [Subscribe(wanted())]


def test_a_matching_subscription_needs_nothing_whatever_its_json_spacing() -> None:
    assert plan_subscriptions([wanted()], [existing()], {"orders": "arn:sub:1"}) == []


def test_a_changed_attribute_is_set_back() -> None:
    actions = plan_subscriptions([wanted()], [existing(RawMessageDelivery="false")], {})
    assert actions == [
        SetSubscriptionAttribute("orders", "arn:sub:1", "RawMessageDelivery", "true")
    ]


def test_a_subscription_dropped_from_the_spec_is_removed_only_if_it_was_ours() -> None:
    ours, theirs = existing("arn:sub:ours"), Existing("arn:sub:theirs", "email", "a@b.c", {})
    actions = plan_subscriptions([], [ours, theirs], {"orders": "arn:sub:ours"})
    assert actions == [Unsubscribe("orders", "arn:sub:ours")]


def test_a_pending_confirmation_is_left_to_confirm() -> None:
    assert plan_subscriptions([wanted()], [existing(PENDING, RawMessageDelivery="false")], {}) == []


ALLOWED = (re.compile(r"https://hooks[.]example[.]com/.*"),)


def _subscription(
    protocol: str, endpoint: str | None, queue: str | None = None
) -> SubscriptionSpec:
    return SubscriptionSpec("s", protocol, endpoint, queue, None, "MessageAttributes", False)


def test_a_queue_of_the_namespace_is_allowed_by_its_protocol_alone() -> None:
    assert endpoint_refusal(_subscription("sqs", None, "orders"), {"sqs"}, ()) is None


@pytest.mark.parametrize(
    ("subscription", "why"),
    [
        (_subscription("https", "https://hooks.example.com/x"), "protocol 'https' is not allowed"),
        (_subscription("sqs", "arn:aws:sqs:us-east-1:1:theirs"), "matches no allowed pattern"),
    ],
)
def test_by_default_only_queues_of_the_namespace_may_subscribe(
    subscription: SubscriptionSpec, why: str
) -> None:
    assert why in (endpoint_refusal(subscription, {"sqs"}, ()) or "")


@pytest.mark.parametrize(
    ("endpoint", "allowed"),
    [
        ("https://hooks.example.com/orders", True),
        ("https://hooks.example.com.attacker.net/orders", False),  # the whole endpoint must match
        ("https://attacker.net/?https://hooks.example.com/", False),
        ("http://hooks.example.com/orders", False),
    ],
)
def test_a_named_endpoint_must_match_an_allowed_pattern_whole(endpoint: str, allowed: bool) -> None:
    refusal = endpoint_refusal(_subscription("https", endpoint), {"sqs", "https"}, ALLOWED)
    assert (refusal is None) == allowed
