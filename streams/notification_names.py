"""The notifications' SNS and SQS names: the message attributes the subscriptions filter on,
and per channel its queue, its dead-letter queue and its filter policy. No AWS client here: the
adapter that creates the topology (``streams.adapters.notification_topology``), the publisher
and the operator's declarations (``k8s/messaging/``) all read the same names, so they cannot
drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass

from shopstream.settings import Settings
from streams.contract import Channel

# The message attribute the subscriptions filter on.
CHANNEL_ATTRIBUTE = "channel"
EVENT_TYPE_ATTRIBUTE = "event_type"
KIND_ATTRIBUTE = "kind"


@dataclass(frozen=True, slots=True)
class QueueNames:
    queue: str
    dead_letter: str


def queue_names(settings: Settings, channel: Channel) -> QueueNames:
    queue = f"{settings.notification_queue_prefix}{channel}"
    return QueueNames(queue, f"{queue}-dlq")


def filter_policy(channel: Channel) -> dict[str, list[str]]:
    return {CHANNEL_ATTRIBUTE: [channel.value]}
