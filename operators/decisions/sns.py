"""SnsTopic: the topic, and its subscriptions matched to what SNS has by (protocol, endpoint).

A subscription this resource made (recorded in ``status.subscriptions``) and no longer wants
is removed; subscriptions someone else made on the same topic are left alone.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from re import Pattern
from typing import Any

from operators.specs import SubscriptionSpec

PENDING = "PendingConfirmation"  # the ARN SNS shows until an http/email endpoint confirms


def endpoint_refusal(
    spec: SubscriptionSpec, protocols: Collection[str], patterns: Sequence[Pattern[str]]
) -> str | None:
    """Why this subscription may not be made here, or None. A queue of the resource's own
    namespace (``queueRef``) needs its protocol allowed; a named endpoint must also match one
    of ``patterns`` whole."""
    if spec.protocol not in protocols:
        allowed = ", ".join(sorted(protocols)) or "none"
        return (
            f"subscription {spec.name}: protocol {spec.protocol!r} is not allowed "
            f"(allowed: {allowed}; operator setting SHOPSTREAM_OPERATOR_SNS_PROTOCOLS)"
        )
    if spec.endpoint is not None and not any(p.fullmatch(spec.endpoint) for p in patterns):
        return (
            f"subscription {spec.name}: endpoint {spec.endpoint!r} matches no allowed pattern "
            "(operator setting SHOPSTREAM_OPERATOR_SNS_ENDPOINT_PATTERNS)"
        )
    return None


def subscription_attributes(spec: SubscriptionSpec) -> dict[str, str]:
    attributes = {"RawMessageDelivery": "true" if spec.raw_message_delivery else "false"}
    if spec.filter_policy is not None:
        attributes["FilterPolicy"] = canonical_json(spec.filter_policy)
        attributes["FilterPolicyScope"] = spec.filter_policy_scope
    return attributes


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


@dataclass(frozen=True, slots=True)
class Wanted:
    """A subscription as it should be, its endpoint resolved (an SqsQueue's ARN)."""

    name: str
    protocol: str
    endpoint: str
    attributes: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class Existing:
    arn: str
    protocol: str
    endpoint: str
    attributes: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class Subscribe:
    wanted: Wanted

    def describe(self) -> str:
        return f"subscribed {self.wanted.name} ({self.wanted.protocol} {self.wanted.endpoint})"


@dataclass(frozen=True, slots=True)
class SetSubscriptionAttribute:
    name: str
    arn: str
    key: str
    value: str

    def describe(self) -> str:
        return f"set {self.key} of subscription {self.name}"


@dataclass(frozen=True, slots=True)
class Unsubscribe:
    name: str
    arn: str

    def describe(self) -> str:
        return f"removed subscription {self.name}"


Action = Subscribe | SetSubscriptionAttribute | Unsubscribe


def same(key: str, desired: str, actual: str | None) -> bool:
    if actual is None:
        return False
    if key == "FilterPolicy":
        try:
            return bool(json.loads(desired) == json.loads(actual))
        except ValueError:
            return False
    if key == "RawMessageDelivery":
        return desired.lower() == actual.lower()
    return desired == actual


def plan_subscriptions(
    wanted: Sequence[Wanted], existing: Iterable[Existing], recorded: Mapping[str, str]
) -> list[Action]:
    """``recorded``: subscription name -> ARN, as this resource made them before."""
    by_target = {(sub.protocol, sub.endpoint): sub for sub in existing}
    arns = {sub.arn for sub in by_target.values()}
    actions: list[Action] = []
    kept: set[str] = set()
    for sub in wanted:
        found = by_target.get((sub.protocol, sub.endpoint))
        if found is None:
            actions.append(Subscribe(sub))
            continue
        kept.add(found.arn)
        if found.arn == PENDING:
            continue  # attributes can be set once the endpoint has confirmed
        actions.extend(
            SetSubscriptionAttribute(sub.name, found.arn, key, value)
            for key, value in sub.attributes.items()
            if not same(key, value, found.attributes.get(key))
        )
    actions.extend(
        Unsubscribe(name, arn)
        for name, arn in sorted(recorded.items())
        if arn in arns and arn not in kept and arn != PENDING
    )
    return actions
