"""Rate limits on a gateway of its own (small limits, its own counters), behind a proxy it
trusts on 127.0.0.1: password spraying, password changes, and the requests a customer makes
about their orders. Another loopback address (127.0.0.2) plays a client that is no proxy."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Iterator

import boto3
import httpx
import pytest

from shopstream.settings import Settings
from tests.integration.api.conftest import (
    ADDRESS,
    PASSWORD,
    GatewayProcess,
    Person,
    register,
    start_gateway,
    stop_gateway,
    undocumented_headers,
)

LIMIT = 3


@pytest.fixture(scope="module")
def limited_gateway(
    stack_settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GatewayProcess]:
    table = f"test-rate-limits-{uuid.uuid4().hex[:10]}"
    env = {
        "SHOPSTREAM_RATE_LIMIT_TABLE": table,
        "SHOPSTREAM_RATE_LIMIT_WINDOW_S": "600",
        "SHOPSTREAM_REGISTRATIONS_PER_WINDOW": "100000",
        "SHOPSTREAM_LOGIN_ATTEMPTS_PER_WINDOW": "100000",
        "SHOPSTREAM_TRUSTED_PROXIES": json.dumps(["127.0.0.1/32"]),
        **{
            f"SHOPSTREAM_{name}": str(LIMIT)
            for name in (
                "LOGIN_ATTEMPTS_PER_ADDRESS_PER_WINDOW",
                "PASSWORD_CHANGES_PER_WINDOW",
                "ORDER_CANCELLATIONS_PER_WINDOW",
                "PAYMENT_RETRIES_PER_WINDOW",
                "ADDRESS_CHANGES_PER_WINDOW",
            )
        },
    }
    started = start_gateway(tmp_path_factory.mktemp("limited") / "gateway.log", env)
    try:
        yield started
    finally:
        stop_gateway(started)
        dynamodb = boto3.client(
            "dynamodb",
            endpoint_url=stack_settings.aws_endpoint_url,
            region_name=stack_settings.aws_region,
        )
        dynamodb.delete_table(TableName=table)


@pytest.fixture
async def proxied(limited_gateway: GatewayProcess) -> AsyncIterator[httpx.AsyncClient]:
    """Requests through the trusted proxy (from 127.0.0.1), from a client of this test's own."""
    async with httpx.AsyncClient(
        base_url=limited_gateway.url, timeout=30, headers={"X-Forwarded-For": _somewhere()}
    ) as client:
        yield client


def _somewhere() -> str:
    """A client address of its own (documentation range), so tests never share counters."""
    bits = uuid.uuid4().hex
    return f"2001:db8::{bits[:4]}:{bits[4:8]}:{bits[8:12]}"


async def _guess(client: httpx.AsyncClient, email: str, forwarded: str) -> httpx.Response:
    return await client.post(
        "/auth/login",
        json={"email": email, "password": "Spring2026!"},
        headers={"X-Forwarded-For": forwarded},
    )


def _assert_limited(refused: httpx.Response) -> None:
    assert refused.status_code == 429, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    assert 0 < int(refused.headers["retry-after"]) <= 600
    assert undocumented_headers(refused) == []


async def test_one_password_sprayed_over_many_accounts_from_one_address_is_limited(
    proxied: httpx.AsyncClient,
) -> None:
    client = _somewhere()
    answers = [
        await _guess(proxied, f"victim-{uuid.uuid4().hex[:8]}@example.com", client)
        for _ in range(LIMIT + 1)
    ]
    assert [answer.status_code for answer in answers] == [401] * LIMIT + [429]
    _assert_limited(answers[-1])


async def test_behind_a_trusted_proxy_each_forwarded_client_has_a_limit_of_its_own(
    proxied: httpx.AsyncClient,
) -> None:
    spraying, bystander = _somewhere(), _somewhere()
    for _ in range(LIMIT + 1):
        await _guess(proxied, f"v-{uuid.uuid4().hex[:8]}@example.com", spraying)
    # Same proxy, another client: not limited by the first one's attempts.
    other = await _guess(proxied, f"v-{uuid.uuid4().hex[:8]}@example.com", bystander)
    assert other.status_code == 401
    # What a client writes into the header left of the proxy's own entry changes nothing.
    disguised = await _guess(
        proxied, f"v-{uuid.uuid4().hex[:8]}@example.com", f"192.0.2.1, {spraying}"
    )
    _assert_limited(disguised)


async def test_a_client_that_is_not_a_trusted_proxy_cannot_pick_fresh_limits(
    limited_gateway: GatewayProcess,
) -> None:
    transport = httpx.AsyncHTTPTransport(local_address="127.0.0.2")
    async with httpx.AsyncClient(
        base_url=limited_gateway.url, transport=transport, timeout=30
    ) as untrusted:
        answers = [
            await _guess(untrusted, f"v-{uuid.uuid4().hex[:8]}@example.com", _somewhere())
            for _ in range(LIMIT + 1)
        ]
    assert [answer.status_code for answer in answers] == [401] * LIMIT + [429]


async def test_password_changes_are_limited_per_user(proxied: httpx.AsyncClient) -> None:
    person = await register(proxied)
    answers = [
        await proxied.post(
            "/users/me/password",
            json={"current_password": f"guess {n}", "new_password": "a new long passphrase"},
            headers=person.headers,
        )
        for n in range(LIMIT + 1)
    ]
    assert [answer.status_code for answer in answers] == [401] * LIMIT + [429]
    _assert_limited(answers[-1])
    other = await register(proxied)
    fine = await proxied.post(
        "/users/me/password",
        json={"current_password": PASSWORD, "new_password": "a new long passphrase"},
        headers=other.headers,
    )
    assert fine.status_code == 200


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/orders/ord_unknown/cancel", {"reason": "changed my mind"}),
        ("POST", "/orders/ord_unknown/payment", {"payment_token": "tok_visa"}),
        ("PATCH", "/orders/ord_unknown", {"shipping_address": ADDRESS}),
    ],
    ids=["cancel", "payment retry", "address change"],
)
async def test_requests_about_orders_are_limited_per_user(
    proxied: httpx.AsyncClient, method: str, path: str, body: dict[str, object]
) -> None:
    person, other = await register(proxied), await register(proxied)

    async def ask(who: Person) -> httpx.Response:
        return await proxied.request(method, path, json=body, headers=who.headers)

    answers = [await ask(person) for _ in range(LIMIT + 1)]
    assert [answer.status_code for answer in answers] == [404] * LIMIT + [429]
    _assert_limited(answers[-1])
    assert (await ask(other)).status_code == 404  # per user: another customer is not held up
