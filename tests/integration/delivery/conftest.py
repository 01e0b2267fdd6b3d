"""Real parts for the delivery tests: moto's SNS/SQS/DynamoDB, RabbitMQ's MQTT, and an SMTP
server (aiosmtpd) in-process on a loopback port of its own. Every test run gets its own SNS
topic, queues and dedupe table (a unique name prefix)."""

from __future__ import annotations

import asyncio
import email
import email.policy
import json
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager, suppress
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

import aiomqtt
import httpx
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from shopstream.aws import aws_client
from shopstream.settings import Settings
from streams.adapters.notification_topology import Topology, ensure_topology
from streams.contract import Channel
from streams.delivery.service import run
from streams.testing import free_port


@dataclass
class Mailbox:
    """What the SMTP server received, as parsed messages."""

    received: list[EmailMessage] = field(default_factory=list)
    port: int = 0

    # aiosmtpd calls its hooks by these names.
    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        parsed = email.message_from_bytes(content, policy=email.policy.default)
        self.received.append(parsed)
        return "250 OK"

    def to(self, address: str) -> list[EmailMessage]:
        return [message for message in self.received if message["To"] == address]


@contextmanager
def smtp_server() -> Iterator[Mailbox]:
    """A real SMTP server (aiosmtpd) on a loopback port of its own, in this process."""
    box = Mailbox(port=free_port())
    controller = Controller(box, hostname="127.0.0.1", port=box.port)
    controller.start()
    try:
        yield box
    finally:
        controller.stop()


@pytest.fixture(scope="module")
def mailbox() -> Iterator[Mailbox]:
    with smtp_server() as box:
        yield box


def delivery_settings(stack: Settings, unique: str, smtp_port: int, **changes: Any) -> Settings:
    return stack.model_copy(
        update={
            "notifications_topic": f"test-notifications-{unique}",
            "notification_queue_prefix": f"test-notifications-{unique}-",
            "notification_deliveries_table": f"test-notification-deliveries-{unique}",
            "notification_wait_time_s": 1,
            "notification_retry_backoff_s": 0,
            "notification_max_receives": 3,
            "smtp_port": smtp_port,
            "push_topic": f"test/{unique}/users/{{user_id}}/notifications",
            **changes,
        }
    )


@asynccontextmanager
async def running_delivery(settings: Settings) -> AsyncIterator[None]:
    """The delivery workers of every channel, in this process, until the block ends."""
    stop = asyncio.Event()
    task = asyncio.create_task(run(settings, stop))
    try:
        # The topology is ready once the queues exist: what run ensures before receiving.
        async with aws_client(settings, "sqs") as sqs:
            for channel in Channel:
                await _queue_exists(sqs, f"{settings.notification_queue_prefix}{channel}", task)
        yield
    finally:
        stop.set()
        await asyncio.wait_for(task, settings.notification_wait_time_s + 30)


async def _queue_exists(sqs: Any, name: str, task: asyncio.Task[None]) -> None:
    deadline = time.monotonic() + 30
    while True:
        if task.done():
            task.result()  # raises what stopped it
        try:
            await sqs.get_queue_url(QueueName=name)
            return
        except sqs.exceptions.QueueDoesNotExist:
            assert time.monotonic() < deadline, f"queue {name} never created"
            await asyncio.sleep(0.1)


async def until(condition: Callable[[], object], timeout_s: float = 30, what: str = "") -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"not within {timeout_s:.0f}s: {what}"
        await asyncio.sleep(0.1)


async def remove_topology(settings: Settings) -> None:
    """Delete what a test run created on the shared moto server: queues, topic, dedupe table."""
    async with (
        aws_client(settings, "sns") as sns,
        aws_client(settings, "sqs") as sqs,
        aws_client(settings, "dynamodb") as dynamodb,
    ):
        listed = await sqs.list_queues(QueueNamePrefix=settings.notification_queue_prefix)
        for url in listed.get("QueueUrls", []):
            await sqs.delete_queue(QueueUrl=url)
        topic = await sns.create_topic(Name=settings.notifications_topic)
        await sns.delete_topic(TopicArn=topic["TopicArn"])
        with suppress(dynamodb.exceptions.ResourceNotFoundException):
            await dynamodb.delete_table(TableName=settings.notification_deliveries_table)


async def topology(settings: Settings) -> Topology:
    async with aws_client(settings, "sns") as sns, aws_client(settings, "sqs") as sqs:
        return await ensure_topology(settings, sns, sqs)


async def sms_sent_to(settings: Settings, phone: str) -> list[str]:
    """The SMS moto recorded for ``phone``: moto keeps every SMS it was asked to send as an
    ``SMS`` model instance, listed by its own ``/moto-api/data.json``. That document holds
    every model of the shared server, so it takes seconds to build."""
    async with httpx.AsyncClient(timeout=60) as client:
        data = (await client.get(f"{settings.aws_endpoint_url}/moto-api/data.json")).json()
    return [sms["message"] for sms in data["sns"].get("SMS", []) if sms["phone_number"] == phone]


async def retained_push(settings: Settings, topic: str, timeout_s: float = 10) -> dict[str, Any]:
    """The message retained on ``topic``, read by a client that subscribes afterwards."""
    async with aiomqtt.Client(
        hostname=settings.mqtt_host,
        port=settings.mqtt_port,
        username=settings.mqtt_username,
        password=settings.mqtt_password.get_secret_value(),
    ) as client:
        await client.subscribe(topic, qos=1)
        async with asyncio.timeout(timeout_s):
            async for message in client.messages:
                assert message.retain, "the first message a new subscriber gets is the retained one"
                payload: dict[str, Any] = json.loads(bytes(message.payload))
                return payload
    raise AssertionError("unreachable")
