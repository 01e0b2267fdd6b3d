"""Publishes customer notifications to SNS: one message per channel.

One publish per channel rather than one carrying a list of channels: each queue receives only
its own message (a filter policy matches one attribute value), the body holds the one address
that channel needs, and a channel that fails is retried and dead-lettered on its own without
holding the others. The message attributes (channel, kind, event type) are what filter
policies, including a direct e-mail/SMS subscription in AWS, can select on.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

from shopstream.metrics import NOTIFICATIONS_PUBLISHED
from streams.contract import CustomerNotification, encode_notification
from streams.notification_names import CHANNEL_ATTRIBUTE, EVENT_TYPE_ATTRIBUTE, KIND_ATTRIBUTE


def _text(value: str) -> dict[str, str]:
    return {"DataType": "String", "StringValue": value}


async def publish(
    sns: Any, topic_arn: str, event_type: str, sent: Iterable[CustomerNotification]
) -> None:
    """Publish every notification, concurrently (one per channel of one event, typically)."""
    await asyncio.gather(*(_publish_one(sns, topic_arn, event_type, n) for n in sent))


async def _publish_one(
    sns: Any, topic_arn: str, event_type: str, notification: CustomerNotification
) -> None:
    await sns.publish(
        TopicArn=topic_arn,
        Message=encode_notification(notification),
        MessageAttributes={
            CHANNEL_ATTRIBUTE: _text(notification.channel.value),
            KIND_ATTRIBUTE: _text(notification.kind.value),
            EVENT_TYPE_ATTRIBUTE: _text(event_type),
        },
    )
    NOTIFICATIONS_PUBLISHED.labels(notification.channel.value, notification.kind.value).inc()
