"""The notification agent end to end: a real order on Kafka through a real worker, to the
e-mail the SMTP server receives, the SMS moto records and the MQTT message RabbitMQ retains."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest

from api.schema import migrate
from ops.order_commands import new_order
from shopstream.metrics import NOTIFICATIONS_SENT
from shopstream.settings import Settings
from streams.contract import Address, OrderLine
from streams.topics import ORDERS_TABLE
from tests.integration.delivery.conftest import (
    Mailbox,
    delivery_settings,
    remove_topology,
    retained_push,
    running_delivery,
    sms_sent_to,
    until,
)
from tests.integration.saga.conftest import Saga, running_saga

pytestmark = pytest.mark.stack


@dataclass(frozen=True)
class Customer:
    user_id: str
    email: str
    phone: str


@dataclass
class Pipeline:
    saga: Saga
    settings: Settings
    pool: asyncpg.Pool
    mailbox: Mailbox

    async def customer(
        self, *, email: bool = True, sms: bool = True, push: bool = True
    ) -> Customer:
        unique = uuid.uuid4().hex[:10]
        person = Customer(
            f"usr-{unique}", f"ada-{unique}@example.com", f"+1555{int(unique, 16) % 10**7:07d}"
        )
        await self.pool.execute(
            "INSERT INTO users (user_id, email, name, password_hash, role) "
            "VALUES ($1, $2, 'Ada', 'not-a-hash', 'customer')",
            person.user_id,
            person.email,
        )
        await self.pool.execute(
            "INSERT INTO notification_preferences "
            "(user_id, email_opt_in, sms_opt_in, push_opt_in, phone) VALUES ($1, $2, $3, $4, $5)",
            person.user_id,
            email,
            sms,
            push,
            person.phone,
        )
        # As if the customer had typed back the codes sent there (the gateway's part, tested
        # in tests/integration/api/test_address_verification.py): only verified addresses
        # are notified.
        await self.pool.executemany(
            "INSERT INTO verified_addresses (user_id, channel, address) VALUES ($1, $2, $3)",
            [(person.user_id, "email", person.email), (person.user_id, "sms", person.phone)],
        )
        return person

    async def order(self, person: Customer, card: str = "tok_visa") -> str:
        sku = f"SKU-{uuid.uuid4().hex[:8]}"
        await self.saga.stock_up(sku, 5)
        order = new_order(
            [OrderLine(sku=sku, quantity=2, unit_price_cents=1250)],
            card,
            user_id=person.user_id,
            address=Address(
                name="Ada", line1="1 Main St", city="Berlin", postal_code="10115", country="DE"
            ),
        )
        await self.saga.publish(order)
        return order.order_id


@pytest.fixture(scope="module")
async def pipeline(
    stack_settings: Settings, tmp_path_factory: pytest.TempPathFactory, mailbox: Mailbox
) -> AsyncIterator[Pipeline]:
    unique = uuid.uuid4().hex[:10]
    settings = delivery_settings(stack_settings, unique, mailbox.port)
    pool = await asyncpg.create_pool(
        settings.database_url.get_secret_value(), min_size=1, max_size=2
    )
    await migrate(pool)  # the gateway's tables: accounts and their preferences
    worker_env = {
        "SHOPSTREAM_NOTIFICATIONS_TOPIC": settings.notifications_topic,
        "SHOPSTREAM_NOTIFICATION_QUEUE_PREFIX": settings.notification_queue_prefix,
        "SHOPSTREAM_NOTIFICATION_ORDER_URL": "http://shop.test/orders/{order_id}",
    }
    folder = tmp_path_factory.mktemp("notifications")
    try:
        async with (
            running_delivery(settings),
            running_saga(stack_settings, Path(folder), **worker_env) as saga,
        ):
            yield Pipeline(saga, settings, pool, mailbox)
    finally:
        await pool.close()
        await remove_topology(settings)


async def test_a_delivered_order_is_told_by_email_sms_and_push(pipeline: Pipeline) -> None:
    pushed = NOTIFICATIONS_SENT.labels("push", "sent")
    pushed_before = pushed._value.get()
    person = await pipeline.customer()
    order_id = await pipeline.order(person)
    await pipeline.saga.reaches(order_id, "delivered")
    mailbox = pipeline.mailbox
    await until(lambda: len(mailbox.to(person.email)) == 3, 60, "three e-mails")
    subjects = [mail["Subject"] for mail in mailbox.to(person.email)]
    assert sorted(subjects) == sorted(
        [
            f"Order {order_id} confirmed",
            f"Order {order_id} is on its way",
            f"Order {order_id} delivered",
        ]
    )
    confirmed = next(m for m in mailbox.to(person.email) if "confirmed" in m["Subject"])
    body = confirmed.get_content()
    assert "Total: 25.00 EUR" in body
    assert f"http://shop.test/orders/{order_id}" in body
    shipped = next(m for m in mailbox.to(person.email) if "on its way" in m["Subject"])
    state = pipeline.saga.observer.states[order_id]
    assert state.tracking_number is not None and state.tracking_number in shipped.get_content()
    for _ in range(20):
        if len(texts := await sms_sent_to(pipeline.settings, person.phone)) == 3:
            break
        await asyncio.sleep(1)
    assert len(texts) == 3
    await until(lambda: pushed._value.get() >= pushed_before + 3, 60, "three pushes")
    topic = pipeline.settings.push_topic.format(user_id=person.user_id)
    last = await retained_push(pipeline.settings, topic)
    assert (last["order_id"], last["status"]) == (order_id, "delivered")


async def test_order_rows_read_again_send_nothing_twice(pipeline: Pipeline) -> None:
    person = await pipeline.customer(sms=False, push=False)
    order_id = await pipeline.order(person)
    await pipeline.saga.reaches(order_id, "delivered")
    mailbox = pipeline.mailbox
    await until(lambda: len(mailbox.to(person.email)) == 3, 60, "three e-mails")
    dropped = NOTIFICATIONS_SENT.labels("email", "duplicate")
    before = dropped._value.get()
    observer = pipeline.saga.observer
    changelog = observer.changelog_topic(ORDERS_TABLE)
    writes = [
        (seen.topic, seen.key, seen.value)
        for seen in observer.seen
        if seen.topic == changelog and seen.key == order_id.encode() and seen.value is not None
    ]
    # The very same records, as a replay of the changelog brings them.
    await pipeline.saga.publisher.publish_encoded(writes)
    await until(lambda: dropped._value.get() >= before + 3, 60, "the three copies dropped")
    assert len(mailbox.to(person.email)) == 3


async def test_a_declined_card_asks_the_customer_to_try_again_on_opted_in_channels_only(
    pipeline: Pipeline,
) -> None:
    person = await pipeline.customer(email=True, sms=False, push=False)
    order_id = await pipeline.order(person, card="tok_chargeDeclined")
    await pipeline.saga.reaches(order_id, "payment_failed")
    mailbox = pipeline.mailbox
    await until(lambda: mailbox.to(person.email), 60, "the payment-failed e-mail")
    (mail,) = mailbox.to(person.email)
    assert mail["Subject"] == f"Payment for order {order_id} failed - please try again"
    assert await sms_sent_to(pipeline.settings, person.phone) == []
