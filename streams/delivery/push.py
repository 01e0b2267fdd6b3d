"""Push over MQTT: one topic per user, the last notification retained.

A client subscribing to its user's topic gets the latest status at once (the retained
message) and every later one as it is published. QoS 1: the broker acknowledges the publish
before the send counts as done.
"""

from __future__ import annotations

import json

import aiomqtt

from shopstream.settings import Settings
from streams.contract import CustomerNotification


def push_topic(settings: Settings, user_id: str) -> str:
    return settings.push_topic.format(user_id=user_id)


def push_payload(notification: CustomerNotification) -> bytes:
    return json.dumps(
        {
            "notification_id": str(notification.notification_id),
            "kind": notification.kind.value,
            "order_id": notification.order_id,
            "status": notification.status.value,
            "subject": notification.subject,
            "text": notification.text,
            "link": notification.link,
            "tracking_number": notification.tracking_number,
            "occurred_at": notification.occurred_at.isoformat(),
        }
    ).encode()


class PushSender:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    async def __call__(self, notification: CustomerNotification) -> None:
        # A connection per send keeps the sender stateless (no reconnect logic to get wrong);
        # on loopback or in one VPC the connect costs about as much as the publish.
        async with aiomqtt.Client(
            hostname=self.settings.mqtt_host,
            port=self.settings.mqtt_port,
            username=self.settings.mqtt_username,
            password=self.settings.mqtt_password.get_secret_value(),
            identifier=f"shopstream-push-{notification.notification_id}",
        ) as client:
            await client.publish(
                push_topic(self.settings, notification.address),
                payload=push_payload(notification),
                qos=1,
                retain=True,
            )
