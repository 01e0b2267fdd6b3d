"""The notifications' SNS topic and SQS queues, declared once and created idempotently.

One SNS topic; per channel an SQS queue subscribed with a filter policy on the ``channel``
message attribute and raw message delivery (the queue holds the notification JSON itself, not
SNS's envelope), and a dead-letter queue that SQS moves a message to after
``notification_max_receives`` receives. The same shape is declared for the operator in
``k8s/messaging/notifications.yaml``.

In AWS the e-mail and SMS channels could subscribe to the topic directly instead (protocol
``email``/``sms`` with the same filter policy): SNS then formats and sends, and the queue and
worker of that channel go away. The queues are kept here because SNS's own e-mail is
plain, unbranded and needs each address confirmed, and because a queue gives retries, a
dead-letter queue and dedupe that a direct subscription does not.

The names (queues, filter policies, message attributes) live in ``streams.notification_names``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from shopstream.settings import Settings
from streams.contract import Channel
from streams.notification_names import filter_policy, queue_names


@dataclass(frozen=True, slots=True)
class Topology:
    topic_arn: str
    queue_urls: dict[Channel, str]
    dead_letter_urls: dict[Channel, str]


async def ensure_topic(settings: Settings, sns: Any) -> str:
    """The topic's ARN, created if missing (CreateTopic is idempotent)."""
    created = await sns.create_topic(Name=settings.notifications_topic)
    return str(created["TopicArn"])


async def ensure_topology(settings: Settings, sns: Any, sqs: Any) -> Topology:
    """Create what is missing and bring attributes in line; safe to run at every start."""
    topic_arn = await ensure_topic(settings, sns)
    queue_urls: dict[Channel, str] = {}
    dead_letter_urls: dict[Channel, str] = {}
    for channel in Channel:
        names = queue_names(settings, channel)
        dlq_url = (await sqs.create_queue(QueueName=names.dead_letter))["QueueUrl"]
        dlq_arn = await _queue_arn(sqs, dlq_url)
        url = (await sqs.create_queue(QueueName=names.queue))["QueueUrl"]
        arn = await _queue_arn(sqs, url)
        # Set after creation rather than passed to CreateQueue: CreateQueue refuses a name
        # that exists with other attributes, and a changed setting must reach an old queue.
        await sqs.set_queue_attributes(
            QueueUrl=url,
            Attributes={
                "VisibilityTimeout": str(settings.notification_visibility_timeout_s),
                "ReceiveMessageWaitTimeSeconds": str(settings.notification_wait_time_s),
                "RedrivePolicy": json.dumps(
                    {
                        "deadLetterTargetArn": dlq_arn,
                        "maxReceiveCount": str(settings.notification_max_receives),
                    }
                ),
                "Policy": json.dumps(_allow_topic(arn, topic_arn)),
            },
        )
        subscription = await sns.subscribe(
            TopicArn=topic_arn,
            Protocol="sqs",
            Endpoint=arn,
            Attributes={
                "RawMessageDelivery": "true",
                "FilterPolicy": json.dumps(filter_policy(channel)),
            },
            ReturnSubscriptionArn=True,
        )
        # Subscribe returns the existing subscription unchanged; make its attributes current.
        for name, value in (
            ("RawMessageDelivery", "true"),
            ("FilterPolicy", json.dumps(filter_policy(channel))),
        ):
            await sns.set_subscription_attributes(
                SubscriptionArn=subscription["SubscriptionArn"],
                AttributeName=name,
                AttributeValue=value,
            )
        queue_urls[channel] = url
        dead_letter_urls[channel] = dlq_url
    return Topology(topic_arn, queue_urls, dead_letter_urls)


async def _queue_arn(sqs: Any, url: str) -> str:
    found = await sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
    return str(found["Attributes"]["QueueArn"])


def _allow_topic(queue_arn: str, topic_arn: str) -> dict[str, Any]:
    """The queue policy letting this topic (and only it) deliver to the queue."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "sns.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": queue_arn,
                "Condition": {"ArnEquals": {"aws:SourceArn": topic_arn}},
            }
        ],
    }
