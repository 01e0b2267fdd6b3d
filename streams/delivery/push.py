"""Push over MQTT: one topic per user, the last notification retained.

A client subscribing to its user's topic gets the latest status at once (the retained
message) and every later one as it is published. QoS 1: the broker acknowledges the publish
before the send counts as done.

SQS does not keep order, so a notification may arrive after a newer one for the same user:
it is still pushed, but retained only when it is the newest the user has had (a conditional
put in the deliveries table), so a late "shipped" never replaces "delivered" as the retained
status. (The receive loop also sends one user's notifications of a batch in order.)
"""

from __future__ import annotations

import json

import aiomqtt

from shopstream.settings import Settings
from streams.contract import CustomerNotification
from streams.delivery.dedupe import Deliveries


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
    def __init__(self, settings: Settings, deliveries: Deliveries) -> None:
        self.settings = settings
        self.deliveries = deliveries

    async def __call__(self, notification: CustomerNotification) -> None:
        newest = await self.deliveries.newest(
            f"push-latest/{notification.address}", notification.occurred_at
        )
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
                retain=newest,
            )
