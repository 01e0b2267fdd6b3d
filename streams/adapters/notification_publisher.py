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

from shopstream import tracing
from shopstream.metrics import NOTIFICATIONS_PUBLISHED
from shopstream.tracing import SpanKind
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
    attributes = {
        CHANNEL_ATTRIBUTE: _text(notification.channel.value),
        KIND_ATTRIBUTE: _text(notification.kind.value),
        EVENT_TYPE_ATTRIBUTE: _text(event_type),
    }
    # Traced, the publish is a span of the notification's trace (its order event's), and the
    # message carries its traceparent to the delivery worker (SNS hands the attributes on).
    with tracing.span(
        f"publish {notification.channel.value} notification",
        notification.trace_id,
        kind=SpanKind.PRODUCER,
        attributes={
            "messaging.system": "aws_sns",
            "messaging.operation.type": "send",
            "messaging.message.id": str(notification.notification_id),
            "shopstream.order_id": notification.order_id,
            "shopstream.event_type": event_type,
        },
    ) as span:
        if span is not None:
            attributes[tracing.TRACEPARENT] = _text(tracing.traceparent(span.get_span_context()))
        await sns.publish(
            TopicArn=topic_arn,
            Message=encode_notification(notification),
            MessageAttributes=attributes,
        )
    NOTIFICATIONS_PUBLISHED.labels(notification.channel.value, notification.kind.value).inc()
