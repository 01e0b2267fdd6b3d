from __future__ import annotations

from operators.decisions.sns import (
    PENDING,
    Existing,
    SetSubscriptionAttribute,
    Subscribe,
    Unsubscribe,
    Wanted,
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
