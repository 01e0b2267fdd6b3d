"""Idempotency keys in PostgreSQL: the sweep of expired keys, and the import of the keys that
earlier releases kept in DynamoDB, replayed afterwards by the real gateway."""

from __future__ import annotations

import asyncio
import os
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import Any

import asyncpg
import boto3
import httpx
import pytest

from api.idempotency import Claim, Envelope, IdempotencyStore, UnitPrice
from api.schema import migrate
from api.schemas.orders import OrderCreate
from api.security import Principal
from api.services.orders import accepted_body, placed_order
from shopstream.settings import Settings
from streams.contract import encode
from tests.integration.api.conftest import Catalog, Person, order_body, place

DAY_S = 24 * 3600


@pytest.fixture
async def pool(stack_settings: Settings) -> AsyncIterator[asyncpg.Pool]:
    opened = await asyncpg.create_pool(
        stack_settings.database_url.get_secret_value(), min_size=1, max_size=4
    )
    try:
        await migrate(opened)  # as a gateway does at start: the keys' table may be new
        yield opened
    finally:
        await opened.close()


@pytest.fixture
async def sku(pool: asyncpg.Pool) -> str:
    """A product on sale, straight in the catalog table (no gateway needed to price it)."""
    made = f"IDEM-{uuid.uuid4().hex[:10]}"
    await pool.execute(
        "INSERT INTO products (sku, name, category, price_cents, currency) "
        "VALUES ($1, 'Key ring', 'test', 350, 'EUR')",
        made,
    )
    return made


def envelope() -> Envelope:
    return Envelope(f"ord_{uuid.uuid4().hex}", uuid.uuid4(), datetime.now(UTC), uuid.uuid4().hex)


async def claim(store: IdempotencyStore, owner: str, key: str, sku: str, fingerprint: str) -> Claim:
    claimed = await store.claim_order(owner, key, fingerprint, [sku], envelope())
    assert isinstance(claimed, Claim)
    return claimed


async def test_the_sweep_removes_expired_keys_and_keeps_live_ones(
    stack_settings: Settings, pool: asyncpg.Pool, sku: str
) -> None:
    store = IdempotencyStore(pool, stack_settings)
    owner = f"usr_{uuid.uuid4().hex}"
    for key in ("old-1", "old-2", "live"):
        await claim(store, owner, key, sku, "f")
    await pool.execute(
        "UPDATE idempotency_keys SET expires_at = now() - interval '1 second' "
        "WHERE owner = $1 AND key LIKE 'old-%'",
        owner,
    )
    removed = await store.sweep(batch=1)  # batches smaller than the work: it goes on
    assert removed >= 2
    left = await pool.fetch("SELECT key FROM idempotency_keys WHERE owner = $1", owner)
    assert [row["key"] for row in left] == ["live"]


async def test_a_key_expires_a_day_after_its_claim(
    stack_settings: Settings, pool: asyncpg.Pool, sku: str
) -> None:
    store = IdempotencyStore(pool, stack_settings)
    owner = f"usr_{uuid.uuid4().hex}"
    await claim(store, owner, "k", sku, "f")
    lifetime = await pool.fetchval(
        "SELECT extract(epoch FROM expires_at - created_at) FROM idempotency_keys WHERE owner = $1",
        owner,
    )
    assert float(lifetime) == pytest.approx(DAY_S, abs=1)


async def test_an_expired_key_the_sweep_has_not_reached_is_taken_by_the_next_claim(
    stack_settings: Settings, pool: asyncpg.Pool, sku: str
) -> None:
    store = IdempotencyStore(pool, stack_settings)
    owner = f"usr_{uuid.uuid4().hex}"
    first = await claim(store, owner, "k", sku, "first body")
    await pool.execute(
        "UPDATE idempotency_keys SET expires_at = now() - interval '1 second' WHERE owner = $1",
        owner,
    )
    # Another body under the expired key is a new request, not a reuse (no 422).
    second = await claim(store, owner, "k", sku, "second body")
    assert second.fresh
    assert second.envelope.order_id != first.envelope.order_id


# --- the import from DynamoDB -------------------------------------------------------------


def old_item(
    store: IdempotencyStore, person: Person, key: str, body: dict[str, Any], sku: str, age_s: int
) -> dict[str, Any]:
    """An item as earlier releases wrote it: the answer's text and the redacted event."""
    request = OrderCreate.model_validate(body)
    placed_at = time.time() - age_s
    order = placed_order(
        Principal(person.user_id, "customer"),
        request,
        Envelope(
            f"ord_{uuid.uuid4().hex}",
            uuid.uuid4(),
            datetime.fromtimestamp(placed_at, UTC),
            uuid.uuid4().hex,
        ),
        {sku: UnitPrice(1250, "EUR")},
    )
    redacted = order.model_copy(update={"payment_token": "redacted"})
    return {
        "pk": {"S": f"{person.user_id}#{key}"},
        "fingerprint": {"S": store.fingerprint("POST", "/orders", request.model_dump(mode="json"))},
        "status": {"N": "202"},
        "body": {"S": accepted_body(order)},
        "location": {"S": f"/orders/{order.order_id}"},
        "events": {"L": [{"S": encode(redacted).decode()}]},
        "created_at": {"N": str(int(placed_at))},
        "expires_at": {"N": str(int(placed_at) + DAY_S)},
    }


@pytest.fixture
def old_table(stack_settings: Settings) -> Iterator[tuple[Any, str]]:
    dynamodb = boto3.client(
        "dynamodb",
        endpoint_url=stack_settings.aws_endpoint_url,
        region_name=stack_settings.aws_region,
    )
    table = f"test-idempotency-{uuid.uuid4().hex[:10]}"
    dynamodb.create_table(
        TableName=table,
        BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
    )
    try:
        yield dynamodb, table
    finally:
        dynamodb.delete_table(TableName=table)


async def import_keys(table: str) -> str:
    """``python -m api import-idempotency-keys`` from ``table``; what it printed."""
    ran = await asyncio.create_subprocess_exec(
        sys.executable,
        *("-m", "api", "import-idempotency-keys"),
        env={**os.environ, "SHOPSTREAM_IDEMPOTENCY_TABLE": table},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(ran.communicate(), 120)
    assert ran.returncode == 0, err.decode()
    return out.decode().strip()


async def test_keys_kept_in_dynamodb_are_imported_and_then_replayed_by_the_gateway(
    stack_settings: Settings,
    client: httpx.AsyncClient,
    customer: Person,
    catalog: Catalog,
    old_table: tuple[Any, str],
) -> None:
    dynamodb, table = old_table
    store = IdempotencyStore(None, stack_settings)
    sku = await catalog.add(stock=5)
    body = order_body((sku, 1))
    live = old_item(store, customer, "live-key", body, sku, age_s=600)
    expired = old_item(store, customer, "expired-key", body, sku, age_s=DAY_S + 600)
    not_an_order = {**live, "pk": {"S": f"{customer.user_id}#other"}, "status": {"N": "500"}}
    for item in (live, expired, not_an_order):
        dynamodb.put_item(TableName=table, Item=item)

    first = await import_keys(table)
    assert first == f"{table}: 1 keys imported, 0 already present, 1 expired, 1 skipped"
    again = await import_keys(table)
    assert again == f"{table}: 0 keys imported, 1 already present, 1 expired, 1 skipped"

    replay = await place(client, customer, body, "live-key")
    assert replay.status_code == 202, replay.text
    assert replay.content == live["body"]["S"].encode()
    assert replay.headers["location"] == live["location"]["S"]
    assert replay.headers["idempotent-replayed"] == "true"
    reused = await place(client, customer, order_body((sku, 2)), "live-key")
    assert reused.status_code == 422
    assert "Idempotency-Key" in reused.json()["detail"]
    # The expired key was not imported: it is free for a new order.
    fresh = await place(client, customer, body, "expired-key")
    assert fresh.status_code == 202
    assert "idempotent-replayed" not in fresh.headers
