"""Delivery end to end from SNS: routing by channel, e-mail over SMTP, SMS, push over MQTT,
dead-lettering of poison messages and dedupe of redeliveries."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shopstream.aws import aws_client
from shopstream.metrics import NOTIFICATIONS_SENT
from shopstream.settings import Settings
from streams.adapters.notification_publisher import publish
from streams.contract import (
    Channel,
    CustomerNotification,
    OrderLine,
    OrderStatus,
    OrderStatusChanged,
    decode_notification,
)
from streams.domain.notifications import OrderSummary, Preferences, Recipient, notifications
from tests.integration.delivery.conftest import (
    Mailbox,
    delivery_settings,
    remove_topology,
    retained_push,
    running_delivery,
    sms_sent_to,
    topology,
    until,
)

pytestmark = pytest.mark.stack

LINES = (
    OrderLine(sku="MUG-01", quantity=2, unit_price_cents=1250),
    OrderLine(sku="TEE-M", quantity=1, unit_price_cents=2000),
)


def confirmation(unique: str, **preferences: Any) -> tuple[CustomerNotification, ...]:
    order = OrderSummary(f"ord-{unique}", f"usr-{unique}", LINES, 4500, "EUR")
    recipient = Recipient(
        f"usr-{unique}", "Ada", f"ada-{unique}@example.com", Preferences(**preferences)
    )
    event = OrderStatusChanged(
        order_id=order.order_id,
        from_status=OrderStatus.RESERVED,
        to_status=OrderStatus.PAID,
        reason="payment received",
        occurred_at=datetime.now(UTC),
    )
    return notifications(event, order, recipient, f"http://shop.test/orders/{order.order_id}")


@pytest.fixture
async def settings(
    stack_settings: Settings, unique: str, mailbox: Mailbox
) -> AsyncIterator[Settings]:
    settings = delivery_settings(stack_settings, unique, mailbox.port)
    yield settings
    await remove_topology(settings)


async def _publish(settings: Settings, sent: tuple[CustomerNotification, ...]) -> None:
    shape = await topology(settings)
    async with aws_client(settings, "sns") as sns:
        await publish(sns, shape.topic_arn, "OrderStatusChanged", sent)


async def _drain(settings: Settings, url: str) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    async with aws_client(settings, "sqs") as sqs:
        while True:
            answer = await sqs.receive_message(
                QueueUrl=url,
                MaxNumberOfMessages=10,
                WaitTimeSeconds=1,
                MessageAttributeNames=["All"],
            )
            if not answer.get("Messages"):
                return messages
            messages += answer["Messages"]


async def test_sns_filter_policies_route_each_channel_to_its_own_queue(
    settings: Settings, unique: str
) -> None:
    sent = confirmation(unique, sms=True, phone="+4915112345678")
    await _publish(settings, sent)
    shape = await topology(settings)
    for channel in Channel:
        (message,) = await _drain(settings, shape.queue_urls[channel])
        # Raw message delivery: the body is the notification itself, not SNS's envelope, and
        # the SNS message attributes arrive as the SQS message's.
        assert decode_notification(message["Body"]) == next(n for n in sent if n.channel is channel)
        attributes = {k: v["StringValue"] for k, v in message["MessageAttributes"].items()}
        assert attributes == {
            "channel": channel.value,
            "kind": "order_confirmed",
            "event_type": "OrderStatusChanged",
        }


async def test_an_email_arrives_over_smtp_with_the_lines_total_and_link(
    settings: Settings, unique: str, mailbox: Mailbox
) -> None:
    async with running_delivery(settings):
        await _publish(settings, confirmation(unique))
        address = f"ada-{unique}@example.com"
        await until(lambda: mailbox.to(address), what="the confirmation e-mail")
    (mail,) = mailbox.to(address)
    body = mail.get_content()
    assert mail["Subject"] == f"Order ord-{unique} confirmed"
    assert "MUG-01" in body and "TEE-M" in body
    assert "Total: 45.00 EUR" in body
    assert f"http://shop.test/orders/ord-{unique}" in body


async def test_an_sms_is_sent_through_sns_to_the_phone_number(
    settings: Settings, unique: str
) -> None:
    phone = f"+1555{int(unique, 16) % 10**7:07d}"
    async with running_delivery(settings):
        await _publish(settings, confirmation(unique, sms=True, phone=phone, email=False))
        for _ in range(10):
            if texts := await sms_sent_to(settings, phone):
                break
            await asyncio.sleep(1)
    assert len(texts) == 1
    assert f"ord-{unique}" in texts[0]
    assert f"http://shop.test/orders/ord-{unique}" in texts[0]


async def test_push_goes_to_the_users_mqtt_topic_and_is_retained(
    settings: Settings, unique: str, mailbox: Mailbox
) -> None:
    pushed_so_far = NOTIFICATIONS_SENT.labels("push", "sent")
    before = pushed_so_far._value.get()
    async with running_delivery(settings):
        await _publish(settings, confirmation(unique, email=False))
        await until(lambda: pushed_so_far._value.get() > before, what="the push sent")
        # A client connecting after the push gets it from the broker: the retained message.
        topic = settings.push_topic.format(user_id=f"usr-{unique}")
        pushed = await retained_push(settings, topic)
    assert pushed["order_id"] == f"ord-{unique}"
    assert pushed["status"] == "paid"
    assert pushed["kind"] == "order_confirmed"


async def test_a_poison_message_lands_in_the_dlq_after_n_receives_without_blocking_others(
    settings: Settings, unique: str, mailbox: Mailbox
) -> None:
    shape = await topology(settings)
    async with running_delivery(settings), aws_client(settings, "sqs") as sqs:
        await sqs.send_message(QueueUrl=shape.queue_urls[Channel.EMAIL], MessageBody="{not json")
        await _publish(settings, confirmation(unique, push=False))
        address = f"ada-{unique}@example.com"
        await until(lambda: mailbox.to(address), what="the good e-mail, past the poison one")
        dead: list[dict[str, Any]] = []

        async def dead_lettered() -> bool:
            answer = await sqs.receive_message(
                QueueUrl=shape.dead_letter_urls[Channel.EMAIL],
                MessageSystemAttributeNames=["ApproximateReceiveCount"],
                WaitTimeSeconds=1,
            )
            dead.extend(answer.get("Messages", []))
            return bool(dead)

        for _ in range(30):
            if await dead_lettered():
                break
    assert [message["Body"] for message in dead] == ["{not json"]
    assert len(mailbox.to(address)) == 1


async def test_a_redelivered_notification_is_sent_once(
    settings: Settings, unique: str, mailbox: Mailbox
) -> None:
    sent = confirmation(unique, push=False)
    address = f"ada-{unique}@example.com"
    dropped = NOTIFICATIONS_SENT.labels("email", "duplicate")
    before = dropped._value.get()
    async with running_delivery(settings):
        await _publish(settings, sent)
        await until(lambda: mailbox.to(address), what="the first copy")
        await _publish(settings, sent)  # the agent publishing again after a Kafka redelivery
        await until(lambda: dropped._value.get() > before, what="the copy received and dropped")
    assert len(mailbox.to(address)) == 1


async def test_a_late_older_push_is_sent_but_does_not_replace_the_retained_status(
    settings: Settings, unique: str
) -> None:
    (newer,) = confirmation(unique, email=False)
    older = newer.model_copy(
        update={
            "notification_id": uuid.uuid4(),
            "event_id": uuid.uuid4(),
            "occurred_at": newer.occurred_at - timedelta(minutes=1),
            "status": OrderStatus.RESERVED,
        }
    )
    pushed = NOTIFICATIONS_SENT.labels("push", "sent")
    before = pushed._value.get()
    async with running_delivery(settings):
        await _publish(settings, (newer,))
        await until(lambda: pushed._value.get() > before, what="the newer push")
        await _publish(settings, (older,))  # SQS keeps no order: the older one comes late
        await until(lambda: pushed._value.get() > before + 1, what="the older push")
        topic = settings.push_topic.format(user_id=f"usr-{unique}")
        retained = await retained_push(settings, topic)
    assert retained["status"] == "paid"
    assert retained["notification_id"] == str(newer.notification_id)
