"""SqsQueue: the queue attributes the spec sets, compared as SQS reports them (strings)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

from operators.problems import Refused
from operators.specs import SqsQueueSpec

REDRIVE_POLICY = "RedrivePolicy"


def desired_attributes(spec: SqsQueueSpec, dead_letter_arn: str | None) -> dict[str, str]:
    """The attributes the spec manages; those it leaves unset are left as the queue has them."""
    wanted = {
        "VisibilityTimeout": spec.visibility_timeout_s,
        "MessageRetentionPeriod": spec.message_retention_s,
        "DelaySeconds": spec.delay_s,
        "ReceiveMessageWaitTimeSeconds": spec.receive_wait_s,
    }
    attributes = {key: str(value) for key, value in wanted.items() if value is not None}
    if spec.dead_letter is not None:
        if dead_letter_arn is None:
            raise ValueError("the dead-letter queue's ARN must be resolved first")
        attributes[REDRIVE_POLICY] = json.dumps(
            {
                "deadLetterTargetArn": dead_letter_arn,
                "maxReceiveCount": spec.dead_letter.max_receive_count,
            },
            separators=(",", ":"),
        )
    return attributes


@dataclass(frozen=True, slots=True)
class CreateQueue:
    name: str
    attributes: Mapping[str, str]

    def describe(self) -> str:
        return f"created queue {self.name}"


@dataclass(frozen=True, slots=True)
class SetAttributes:
    name: str
    attributes: Mapping[str, str]

    def describe(self) -> str:
        return f"set {', '.join(sorted(self.attributes))} of queue {self.name}"


Action = CreateQueue | SetAttributes


def _redrive(value: str) -> tuple[str, int] | None:
    try:
        policy = json.loads(value)
        return str(policy["deadLetterTargetArn"]), int(policy["maxReceiveCount"])
    except (ValueError, KeyError, TypeError):
        return None


def same(key: str, desired: str, actual: str | None) -> bool:
    if actual is None:
        return False
    if key == REDRIVE_POLICY:  # JSON: key order, spacing and number-vs-string may differ
        return _redrive(desired) == _redrive(actual)
    return desired == actual


def plan(
    spec: SqsQueueSpec, attributes: Mapping[str, str], actual: Mapping[str, str] | None
) -> list[Action]:
    if actual is None:
        create = dict(attributes)
        if spec.fifo:
            create["FifoQueue"] = "true"
        return [CreateQueue(spec.queue_name, create)]
    if (actual.get("FifoQueue", "false").lower() == "true") != spec.fifo:
        raise Refused(
            "FifoMismatch",
            f"queue {spec.queue_name} is {'' if spec.fifo else 'not '}expected to be FIFO but "
            "is the other kind; a queue's type cannot change",
        )
    changed = {
        key: value for key, value in attributes.items() if not same(key, value, actual.get(key))
    }
    return [SetAttributes(spec.queue_name, changed)] if changed else []
