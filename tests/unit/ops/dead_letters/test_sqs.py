from __future__ import annotations

import json

from ops.dead_letters.sqs import Redrive, dead_letter_targets


def test_only_queues_with_a_redrive_policy_name_a_dead_letter_target() -> None:
    policy = json.dumps({"deadLetterTargetArn": "arn:dlq", "maxReceiveCount": "5"})
    found = dead_letter_targets(
        {
            "https://q/work": {"QueueArn": "arn:work", "RedrivePolicy": policy},
            "https://q/dlq": {"QueueArn": "arn:dlq"},
        }
    )
    assert found == [Redrive("https://q/work", "arn:work", "arn:dlq", 5)]
