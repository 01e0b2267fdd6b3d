from __future__ import annotations

import asyncio
import time

import aiomqtt
from kombu.connection import Connection
from kombu.entity import Exchange, Queue

from shopstream.settings import Settings


def _amqp_round_trip(settings: Settings, unique: str) -> object:
    """Publish with a confirm, then basic.get until the broker hands the message over."""
    exchange = Exchange(f"plumbing-{unique}", type="direct", durable=False)
    queue = Queue(f"plumbing-{unique}", exchange, routing_key="shipment", auto_delete=True)
    with Connection(settings.amqp_url.get_secret_value()) as connection:
        channel = connection.channel()
        bound = queue(channel)
        bound.declare()
        producer = connection.Producer(channel)
        producer.publish(
            {"order_id": unique}, exchange=exchange, routing_key="shipment", serializer="json"
        )
        message = None
        for _ in range(100):
            message = bound.get(no_ack=True)
            if message is not None:
                break
            time.sleep(0.05)
        bound.delete()
        return None if message is None else message.decode()


async def test_kombu_publishes_through_an_exchange_and_reads_the_message_back(
    stack_settings: Settings, unique: str
) -> None:
    body = await asyncio.to_thread(_amqp_round_trip, stack_settings, unique)
    assert body == {"order_id": unique}


async def test_mqtt_subscriber_receives_what_a_publisher_sends(
    stack_settings: Settings, unique: str
) -> None:
    topic = f"shopstream/plumbing/{unique}"

    def client() -> aiomqtt.Client:
        return aiomqtt.Client(
            stack_settings.mqtt_host,
            stack_settings.mqtt_port,
            username=stack_settings.mqtt_username,
            password=stack_settings.mqtt_password.get_secret_value(),
        )

    async with client() as subscriber:
        await subscriber.subscribe(topic, qos=1)
        async with client() as publisher:
            await publisher.publish(topic, b"shipped", qos=1)
        async with asyncio.timeout(10):
            message = await anext(aiter(subscriber.messages))
    assert (str(message.topic), message.payload) == (topic, b"shipped")
