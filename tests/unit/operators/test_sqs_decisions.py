from __future__ import annotations

import json

import pytest

from operators.decisions.sqs import CreateQueue, SetAttributes, desired_attributes, plan
from operators.problems import Refused
from operators.specs import DeadLetter, SqsQueueSpec

DLQ_ARN = "arn:aws:sqs:us-east-1:123456789012:orders-dlq"


def spec(fifo: bool = False, visibility: int | None = 60, dlq: bool = False) -> SqsQueueSpec:
    return SqsQueueSpec(
        queue_name="orders.fifo" if fifo else "orders",
        fifo=fifo,
        visibility_timeout_s=visibility,
        message_retention_s=None,
        delay_s=None,
        receive_wait_s=20,
        dead_letter=DeadLetter("orders-dlq", 5) if dlq else None,
    )


def test_only_the_attributes_the_spec_sets_are_managed() -> None:
    assert desired_attributes(spec(), None) == {
        "VisibilityTimeout": "60",
        "ReceiveMessageWaitTimeSeconds": "20",
    }


def test_the_dead_letter_queue_becomes_a_redrive_policy() -> None:
    policy = json.loads(desired_attributes(spec(dlq=True), DLQ_ARN)["RedrivePolicy"])
    assert policy == {"deadLetterTargetArn": DLQ_ARN, "maxReceiveCount": 5}


def test_an_absent_fifo_queue_is_created_as_fifo() -> None:
    attributes = desired_attributes(spec(fifo=True), None)
    assert plan(spec(fifo=True), attributes, None) == [
        CreateQueue("orders.fifo", {**attributes, "FifoQueue": "true"})
    ]


def test_only_changed_attributes_are_set_back() -> None:
    attributes = desired_attributes(spec(), None)
    actual = {"VisibilityTimeout": "30", "ReceiveMessageWaitTimeSeconds": "20", "DelaySeconds": "9"}
    assert plan(spec(), attributes, actual) == [
        SetAttributes("orders", {"VisibilityTimeout": "60"})
    ]


def test_a_redrive_policy_in_another_json_spelling_is_not_drift() -> None:
    attributes = desired_attributes(spec(dlq=True), DLQ_ARN)
    actual = {
        **attributes,
        "RedrivePolicy": json.dumps({"maxReceiveCount": "5", "deadLetterTargetArn": DLQ_ARN}),
    }
    assert plan(spec(dlq=True), attributes, actual) == []


def test_a_queue_of_the_other_type_is_refused() -> None:
    with pytest.raises(Refused) as refused:
        plan(spec(fifo=True), {}, {"FifoQueue": "false"})
    assert refused.value.reason == "FifoMismatch"
