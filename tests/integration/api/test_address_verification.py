"""Verifying notification addresses over live gateways: the code arrives (by e-mail at a
real SMTP server, by SMS as moto's SNS records it), a right code verifies, a wrong one is
refused and counted, sending and trying are limited; and the notification path sends order
SMS only to a verified phone (a saga, a projector and the delivery workers of their own).

Everything here talks to a moto server of this module's own: the SMS moto keeps are read from
its dashboard document (``/moto-api/data.json``), which lists every model the server ever made;
on the shared server, after a day of everyone's tests, one read takes about a minute.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiomqtt
import asyncpg
import httpx
import pytest

from ops.order_commands import new_order
from shopstream.settings import Settings
from stack import control
from stack.moto_part import Moto
from streams.contract import Address, OrderLine
from streams.projections.notification_recipients import load_recipient
from streams.testing import free_port
from tests.integration.api.conftest import (
    GatewayProcess,
    Person,
    register,
    start_gateway,
    stop_gateway,
    undocumented_headers,
)
from tests.integration.delivery.conftest import (
    Mailbox,
    delivery_settings,
    remove_topology,
    running_delivery,
    sms_sent_to,
    until,
)
from tests.integration.saga.conftest import Saga, running_saga

PATH = "/users/me/notification-preferences"
VERIFY = f"{PATH}/verify"
CODES = f"{PATH}/verification-codes"
PROBLEMS = "https://shopstream.dev/problems/"


def new_phone() -> str:
    """A number of the test's own: codes to one number are limited per hour, whoever asks."""
    return f"+1555{uuid.uuid4().int % 10**7:07d}"


async def sms_codes(settings: Settings, phone: str, count: int = 1) -> list[str]:
    """The codes texted to ``phone``, once there are ``count`` (oldest first)."""
    deadline = time.monotonic() + 60
    while True:
        texts = await sms_sent_to(settings, phone)
        codes = [match.group(1) for text in texts if (match := re.match(r"^(\d{6}) ", text))]
        if len(codes) >= count:
            return codes
        assert time.monotonic() < deadline, f"{count} codes never texted to {phone}: {texts}"
        await asyncio.sleep(0.5)


async def mailed_code(mailbox: Mailbox, address: str, count: int = 1) -> str:
    """The newest code mailed to ``address``, once ``count`` have come."""
    deadline = time.monotonic() + 30
    while len(mails := mailbox.to(address)) < count:
        assert time.monotonic() < deadline, f"{count} codes never mailed to {address}"
        await asyncio.sleep(0.1)
    match = re.search(r"code is (\d{6})", mails[-1].get_content())
    assert match, mails[-1].get_content()
    return match.group(1)


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 10**6:06d}"


async def choose(client: httpx.AsyncClient, person: Person, **chosen: Any) -> httpx.Response:
    return await client.put(PATH, json=chosen, headers=person.headers)


async def verify(
    client: httpx.AsyncClient, person: Person, channel: str, code: str
) -> httpx.Response:
    return await client.post(
        VERIFY, json={"channel": channel, "code": code}, headers=person.headers
    )


def problem_type(response: httpx.Response) -> str:
    assert response.headers["content-type"] == "application/problem+json", response.text
    return str(response.json()["type"]).removeprefix(PROBLEMS)


@pytest.fixture(scope="module")
async def own_aws(
    stack_settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Settings]:
    """The stack's settings, with AWS APIs on a moto server started for this module."""
    port = free_port()
    settings = stack_settings.model_copy(
        update={
            "ports": stack_settings.ports.model_copy(update={"moto": port}),
            "state_dir": tmp_path_factory.mktemp("verification-stack"),
            "aws_endpoint_url": f"http://127.0.0.1:{port}",
        }
    )
    moto = Moto(settings)
    await control.up(settings, [moto], lambda message: None)
    yield settings
    moto.stop()


def gateway_on(
    aws: Settings, tmp_path_factory: pytest.TempPathFactory, name: str, **env: str
) -> GatewayProcess:
    """A gateway of the users' routes, its AWS calls (rate limits, sessions, SMS) to ``aws``."""
    return start_gateway(
        tmp_path_factory.mktemp(name) / "gateway.log",
        {
            "SHOPSTREAM_AWS_ENDPOINT_URL": str(aws.aws_endpoint_url),
            "SHOPSTREAM_GATEWAY_ROUTERS": json.dumps(["users"]),
            **env,
        },
    )


@pytest.fixture(scope="module")
def verifying_gateway(
    own_aws: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GatewayProcess]:
    started = gateway_on(own_aws, tmp_path_factory, "verifying")
    try:
        yield started
    finally:
        stop_gateway(started)


@pytest.fixture(scope="module")
async def client(verifying_gateway: GatewayProcess) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=verifying_gateway.url, timeout=30) as opened:
        yield opened


@pytest.fixture
async def customer(client: httpx.AsyncClient) -> Person:
    return await register(client, "Ada")


# The default limits; codes by SMS to moto and by e-mail to gateway_mailbox.


async def test_saving_a_phone_number_texts_it_a_code_and_the_code_verifies_it(
    client: httpx.AsyncClient, customer: Person, own_aws: Settings
) -> None:
    phone = new_phone()
    saved = await choose(client, customer, email=False, sms=True, phone=phone)
    assert saved.status_code == 200, saved.text
    assert saved.json()["phone_verified"] is False
    assert saved.json()["awaiting_code"] == ["sms"]
    (code,) = await sms_codes(own_aws, phone)
    verified = await verify(client, customer, "sms", code)
    assert verified.status_code == 200, verified.text
    assert verified.json()["phone_verified"] is True
    assert verified.json()["awaiting_code"] == []
    got = await client.get(PATH, headers=customer.headers)
    assert (got.json()["phone"], got.json()["phone_verified"]) == (phone, True)


async def test_the_accounts_email_is_sent_a_code_too_since_registration_verifies_nothing(
    client: httpx.AsyncClient, customer: Person, gateway_mailbox: Mailbox
) -> None:
    saved = await choose(client, customer)  # the defaults: e-mail and push
    assert saved.json()["email_verified"] is False
    assert saved.json()["awaiting_code"] == ["email"]
    code = await mailed_code(gateway_mailbox, customer.email)
    verified = await verify(client, customer, "email", code)
    assert verified.status_code == 200, verified.text
    assert verified.json()["email_verified"] is True


async def test_saving_the_same_preferences_again_sends_no_second_code(
    client: httpx.AsyncClient, customer: Person, gateway_mailbox: Mailbox
) -> None:
    await choose(client, customer)
    await mailed_code(gateway_mailbox, customer.email)
    again = await choose(client, customer, push=False)
    assert again.json()["awaiting_code"] == ["email"]
    await asyncio.sleep(1)
    assert len(gateway_mailbox.to(customer.email)) == 1


async def test_another_notification_email_is_verified_on_its_own_and_replacing_forgets(
    client: httpx.AsyncClient, customer: Person, gateway_mailbox: Mailbox
) -> None:
    await choose(client, customer)
    account_code = await mailed_code(gateway_mailbox, customer.email)
    assert (await verify(client, customer, "email", account_code)).status_code == 200
    other = f"orders-{uuid.uuid4().hex[:10]}@example.com"
    moved = await choose(client, customer, email_address=other)
    assert moved.json()["email_verified"] is False
    other_code = await mailed_code(gateway_mailbox, other)
    assert (await verify(client, customer, "email", other_code)).json()["email_verified"]
    back = await choose(client, customer)  # the account's address again: verified again
    assert back.json()["email_verified"] is False
    assert back.json()["awaiting_code"] == ["email"]
    await mailed_code(gateway_mailbox, customer.email, count=2)


async def test_a_wrong_code_is_refused_with_the_tries_left_and_the_last_try_spends_it(
    client: httpx.AsyncClient, customer: Person, own_aws: Settings
) -> None:
    phone = new_phone()
    await choose(client, customer, email=False, sms=True, phone=phone)
    (code,) = await sms_codes(own_aws, phone)
    left = []
    for _ in range(5):  # verification_code_max_attempts
        refused = await verify(client, customer, "sms", wrong(code))
        assert refused.status_code == 422
        assert problem_type(refused) == "wrong-code"
        assert phone in refused.json()["detail"]
        left.append(refused.json()["tries_left"])
    assert left == [4, 3, 2, 1, 0]
    spent = await verify(client, customer, "sms", code)
    assert spent.status_code == 409
    assert problem_type(spent) == "no-code-waiting"
    assert "ask for a new one" in spent.json()["detail"]
    got = await client.get(PATH, headers=customer.headers)
    assert (got.json()["phone_verified"], got.json()["awaiting_code"]) == (False, [])


async def test_a_code_is_single_use(
    client: httpx.AsyncClient, customer: Person, own_aws: Settings
) -> None:
    phone = new_phone()
    await choose(client, customer, email=False, sms=True, phone=phone)
    (code,) = await sms_codes(own_aws, phone)
    assert (await verify(client, customer, "sms", code)).status_code == 200
    again = await verify(client, customer, "sms", code)
    assert again.status_code == 409
    assert "verified already" in again.json()["detail"]


async def test_a_code_sent_to_a_number_replaced_since_does_not_verify_the_new_one(
    client: httpx.AsyncClient, customer: Person, own_aws: Settings
) -> None:
    first, second = new_phone(), new_phone()
    await choose(client, customer, email=False, sms=True, phone=first)
    (first_code,) = await sms_codes(own_aws, first)
    await choose(client, customer, email=False, sms=True, phone=second)
    (second_code,) = await sms_codes(own_aws, second)
    if first_code != second_code:  # one chance in a million that they are the same
        refused = await verify(client, customer, "sms", first_code)
        assert problem_type(refused) == "wrong-code"
    assert (await verify(client, customer, "sms", second_code)).json()["phone_verified"]


async def test_asking_for_a_new_code_replaces_the_one_waiting(
    client: httpx.AsyncClient, customer: Person, own_aws: Settings
) -> None:
    phone = new_phone()
    await choose(client, customer, email=False, sms=False, phone=phone)  # SMS off: no code yet
    asked = await client.post(CODES, json={"channel": "sms"}, headers=customer.headers)
    assert asked.status_code == 202, asked.text
    assert (asked.json()["channel"], asked.json()["address"]) == ("sms", phone)
    asked_again = await client.post(CODES, json={"channel": "sms"}, headers=customer.headers)
    assert asked_again.status_code == 202
    old, new = await sms_codes(own_aws, phone, count=2)
    if old != new:
        assert problem_type(await verify(client, customer, "sms", old)) == "wrong-code"
    assert (await verify(client, customer, "sms", new)).json()["phone_verified"]
    verified_already = await client.post(CODES, json={"channel": "sms"}, headers=customer.headers)
    assert verified_already.status_code == 409
    assert problem_type(verified_already) == "nothing-to-verify"


async def test_no_code_is_sent_without_a_phone_number(
    client: httpx.AsyncClient, customer: Person
) -> None:
    asked = await client.post(CODES, json={"channel": "sms"}, headers=customer.headers)
    assert asked.status_code == 409
    assert problem_type(asked) == "nothing-to-verify"
    tried = await verify(client, customer, "sms", "123456")
    assert tried.status_code == 409
    assert problem_type(tried) == "no-code-waiting"


async def test_a_code_not_of_six_digits_is_refused_as_invalid(
    client: httpx.AsyncClient, customer: Person
) -> None:
    refused = await verify(client, customer, "sms", "12345x")
    assert refused.status_code == 422
    assert problem_type(refused) == "invalid-request"
    assert "body.code" in refused.json()["detail"]


async def test_the_notification_lookup_leaves_an_address_out_until_it_is_verified(
    client: httpx.AsyncClient, customer: Person, own_aws: Settings
) -> None:
    phone = new_phone()
    await choose(client, customer, email=False, sms=True, phone=phone)
    pool = await asyncpg.create_pool(
        own_aws.database_url.get_secret_value(), min_size=1, max_size=1
    )
    try:
        before = await load_recipient(pool, customer.user_id)
        (code,) = await sms_codes(own_aws, phone)
        await verify(client, customer, "sms", code)
        after = await load_recipient(pool, customer.user_id)
    finally:
        await pool.close()
    assert before is not None and after is not None
    assert (before.preferences.sms, before.preferences.phone) == (False, phone)
    assert (after.preferences.sms, after.preferences.phone) == (True, phone)


# A gateway of its own: small limits with counters of its own, codes that expire in a second,
# and no mail server where it sends e-mail.

TRIES = 3
SENDS_PER_USER = 3
SENDS_PER_ADDRESS = 2


@pytest.fixture(scope="module")
def strict_gateway(
    own_aws: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GatewayProcess]:
    started = gateway_on(
        own_aws,
        tmp_path_factory,
        "strict",
        SHOPSTREAM_RATE_LIMIT_TABLE=f"test-rate-limits-{uuid.uuid4().hex[:10]}",
        SHOPSTREAM_RATE_LIMIT_WINDOW_S="600",
        SHOPSTREAM_VERIFICATION_ATTEMPTS_PER_WINDOW=str(TRIES),
        SHOPSTREAM_VERIFICATION_SENDS_PER_USER_PER_WINDOW=str(SENDS_PER_USER),
        SHOPSTREAM_VERIFICATION_SENDS_PER_ADDRESS_PER_WINDOW=str(SENDS_PER_ADDRESS),
        SHOPSTREAM_VERIFICATION_CODE_TTL_S="1",
        SHOPSTREAM_SMTP_PORT=str(free_port()),  # nothing listens there
    )
    try:
        yield started
    finally:
        stop_gateway(started)


@pytest.fixture(scope="module")
async def strict(strict_gateway: GatewayProcess) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=strict_gateway.url, timeout=30) as opened:
        yield opened


async def test_tries_are_limited_per_user_whatever_the_code(strict: httpx.AsyncClient) -> None:
    person = await register(strict)
    for _ in range(TRIES):
        assert (await verify(strict, person, "sms", "000000")).status_code == 409
    limited = await verify(strict, person, "sms", "000000")
    assert limited.status_code == 429
    assert problem_type(limited) == "rate-limited"
    assert int(limited.headers["Retry-After"]) >= 1
    assert undocumented_headers(limited) == []


async def test_codes_sent_are_limited_per_user_and_a_refused_save_changes_nothing(
    strict: httpx.AsyncClient,
) -> None:
    person = await register(strict)
    phones = [new_phone() for _ in range(SENDS_PER_USER + 1)]
    for phone in phones[:SENDS_PER_USER]:
        saved = await choose(strict, person, email=False, sms=True, phone=phone)
        assert saved.status_code == 200, saved.text
    limited = await choose(strict, person, email=False, sms=True, phone=phones[-1])
    assert limited.status_code == 429
    assert problem_type(limited) == "rate-limited"
    assert "Too many code-send attempts" in limited.json()["detail"]
    assert undocumented_headers(limited) == []
    got = await strict.get(PATH, headers=person.headers)
    assert got.json()["phone"] == phones[SENDS_PER_USER - 1]


async def test_codes_sent_to_one_number_are_limited_whoever_asks(
    strict: httpx.AsyncClient,
) -> None:
    phone = new_phone()
    for _ in range(SENDS_PER_ADDRESS):
        person = await register(strict)
        assert (await choose(strict, person, email=False, sms=True, phone=phone)).status_code == 200
    limited = await choose(strict, await register(strict), email=False, sms=True, phone=phone)
    assert limited.status_code == 429
    assert "Too many code-send-to-address attempts" in limited.json()["detail"]


async def test_an_expired_code_is_refused_and_gone(
    strict: httpx.AsyncClient, own_aws: Settings
) -> None:
    person = await register(strict)
    phone = new_phone()
    await choose(strict, person, email=False, sms=True, phone=phone)
    (code,) = await sms_codes(own_aws, phone)
    await asyncio.sleep(1.2)
    expired = await verify(strict, person, "sms", code)
    assert expired.status_code == 422
    assert problem_type(expired) == "code-expired"
    assert problem_type(await verify(strict, person, "sms", code)) == "no-code-waiting"


async def test_a_code_the_mail_server_does_not_take_changes_nothing(
    strict: httpx.AsyncClient,
) -> None:
    person = await register(strict)
    refused = await choose(strict, person, email=True, push=False)
    assert refused.status_code == 503
    assert problem_type(refused) == "code-not-sent"
    assert "nothing was changed" in refused.json()["detail"]
    assert undocumented_headers(refused) == []
    got = await strict.get(PATH, headers=person.headers)
    assert (got.json()["push"], got.json()["awaiting_code"]) == (True, [])


# The notification path: a saga of its own (its projector runs the notification agent) and the
# delivery workers in this process, on a topic and queues of their own.


@dataclass
class Pipeline:
    saga: Saga
    settings: Settings

    async def order(self, user_id: str) -> str:
        sku = f"SKU-{uuid.uuid4().hex[:8]}"
        await self.saga.stock_up(sku, 5)
        order = new_order(
            [OrderLine(sku=sku, quantity=1, unit_price_cents=1250)],
            "tok_visa",
            user_id=user_id,
            address=Address(
                name="Ada", line1="1 Main St", city="Berlin", postal_code="10115", country="DE"
            ),
        )
        await self.saga.publish(order)
        return order.order_id

    async def pushed(self, user_id: str, order_id: str, status: str) -> None:
        """Until the user's push says ``status`` of the order (retained, or live): the agent
        has published that news on every channel the user is notified on."""
        settings = self.settings
        async with aiomqtt.Client(
            hostname=settings.mqtt_host,
            port=settings.mqtt_port,
            username=settings.mqtt_username,
            password=settings.mqtt_password.get_secret_value(),
        ) as mqtt:
            await mqtt.subscribe(settings.push_topic.format(user_id=user_id), qos=1)
            async with asyncio.timeout(60):
                async for message in mqtt.messages:
                    pushed = json.loads(bytes(message.payload))
                    if (pushed["order_id"], pushed["status"]) == (order_id, status):
                        return


@pytest.fixture(scope="module")
async def pipeline(
    own_aws: Settings, tmp_path_factory: pytest.TempPathFactory, gateway_mailbox: Mailbox
) -> AsyncIterator[Pipeline]:
    settings = delivery_settings(own_aws, uuid.uuid4().hex[:10], gateway_mailbox.port)
    worker_env = {
        "SHOPSTREAM_AWS_ENDPOINT_URL": str(own_aws.aws_endpoint_url),
        "SHOPSTREAM_NOTIFICATIONS_TOPIC": settings.notifications_topic,
        "SHOPSTREAM_NOTIFICATION_QUEUE_PREFIX": settings.notification_queue_prefix,
    }
    folder = Path(tmp_path_factory.mktemp("verified-notifications"))
    try:
        async with (
            running_delivery(settings),
            running_saga(own_aws, folder, **worker_env) as saga,
        ):
            yield Pipeline(saga, settings)
    finally:
        await remove_topology(settings)


async def test_order_sms_goes_to_a_phone_only_once_it_is_verified(
    client: httpx.AsyncClient, customer: Person, pipeline: Pipeline, gateway_mailbox: Mailbox
) -> None:
    phone = new_phone()
    await choose(client, customer, email=True, sms=True, push=True, phone=phone)
    (code,) = await sms_codes(pipeline.settings, phone)
    mailed = await mailed_code(gateway_mailbox, customer.email)

    unverified = await pipeline.order(customer.user_id)
    await pipeline.saga.reaches(unverified, "delivered")
    await pipeline.pushed(customer.user_id, unverified, "delivered")
    await asyncio.sleep(2)  # the SMS queue's worker had the news as long as the push one
    texts = await sms_sent_to(pipeline.settings, phone)
    assert [text for text in texts if not re.match(r"^\d{6} ", text)] == []  # codes only
    assert [mail["Subject"] for mail in gateway_mailbox.to(customer.email)] == [
        "Your shopstream confirmation code"
    ]

    assert problem_type(await verify(client, customer, "sms", wrong(code))) == "wrong-code"
    assert (await verify(client, customer, "sms", code)).json()["phone_verified"]
    assert (await verify(client, customer, "email", mailed)).json()["email_verified"]

    verified = await pipeline.order(customer.user_id)
    await pipeline.saga.reaches(verified, "delivered")
    deadline = time.monotonic() + 60
    while (
        len(news := [t for t in await sms_sent_to(pipeline.settings, phone) if verified in t]) < 3
    ):
        assert time.monotonic() < deadline, f"order SMS never came: {news}"
        await asyncio.sleep(1)
    assert not [t for t in await sms_sent_to(pipeline.settings, phone) if unverified in t]

    def subjects() -> set[str]:
        return {str(mail["Subject"]) for mail in gateway_mailbox.to(customer.email)}

    await until(lambda: f"Order {verified} delivered" in subjects(), 60, "the order e-mail")
    assert not [subject for subject in subjects() if unverified in subject]
