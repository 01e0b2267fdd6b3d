"""Time and failure: reservations that expire, and a worker killed in the middle of a batch.

Each test runs a worker of its own: one with a short reservation deadline and no payment
function, one that is killed with SIGKILL and restarted from an empty data folder.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from shopstream.settings import Settings
from streams.contract import OrderStatusChanged, PaymentRequested, PaymentSucceeded
from streams.domain.order_saga import OrderState
from streams.projections.order_status import OrderDetail, get_order
from streams.projections.stock import get_stock_levels
from streams.publisher import layout
from streams.topics import DEAD_LETTER_REASON_HEADER, DEAD_LETTERS
from tests.integration.saga.conftest import Saga, running_saga


@pytest.fixture
async def saga_without_payments(stack_settings: Settings, tmp_path: Path) -> AsyncIterator[Saga]:
    """Reservations last 2 s; the payment function was never deployed, so nothing gets paid."""
    overrides = {
        "SHOPSTREAM_RESERVATION_TTL_S": "2",
        "SHOPSTREAM_EXPIRY_CHECK_INTERVAL_S": "0.5",
        "SHOPSTREAM_PAYMENT_INVOKER": "aws",
        "SHOPSTREAM_PAYMENT_FUNCTION_NAME": f"not-deployed-{uuid.uuid4().hex[:6]}",
    }
    async with running_saga(stack_settings, tmp_path, **overrides) as saga:
        yield saga


async def test_an_unpaid_reservation_expires_and_its_stock_is_released(
    saga_without_payments: Saga, sku: str
) -> None:
    saga = saga_without_payments
    await saga.stock_up(sku, 2)
    order = await saga.place([(sku, 2)])
    await saga.reaches(order.order_id, "expired", timeout_s=30)
    await saga.observer.until(
        lambda: (
            (stock := saga.observer.stock(sku)) is not None
            and (stock.on_hand, stock.reserved) == (2, 0)
        ),
        what="the expired hold released",
    )
    # The charge that could not be made waits on the dead-letter topic, with why.
    dead_letters = layout(saga.settings).spec(DEAD_LETTERS).name
    [request] = saga.observer.events_of(order.order_id, PaymentRequested)
    await saga.observer.until(
        lambda: any(
            seen.topic == dead_letters and seen.key == order.order_id.encode()
            for seen in saga.observer.seen
        ),
        what="the payment request dead-lettered",
    )
    [dead] = [
        seen
        for seen in saga.observer.seen
        if seen.topic == dead_letters and seen.key == order.order_id.encode()
    ]
    assert "ResourceNotFoundException" in dict(dead.headers)[DEAD_LETTER_REASON_HEADER].decode()
    assert str(request.event_id) in (dead.value or b"").decode()


async def test_a_worker_killed_mid_batch_recovers_its_tables_and_finishes_every_order(
    stack_settings: Settings, tmp_path: Path
) -> None:
    skus = [f"SKU-{uuid.uuid4().hex[:6]}" for _ in range(5)]
    quantities = [1 + (index % 3 == 0) for index in range(200)]
    async with running_saga(stack_settings, tmp_path) as saga:
        for sku in skus:
            await saga.stock_up(sku, 1000)
        orders = [
            await saga.place([(skus[index % len(skus)], quantity)])
            for index, quantity in enumerate(quantities)
        ]
        ids = [order.order_id for order in orders]

        def delivered() -> int:
            return sum(saga.observer.status(order_id) == "delivered" for order_id in ids)

        await saga.observer.until(lambda: delivered() >= 30, timeout_s=120, what="30 delivered")
        saga.worker.kill()
        assert delivered() < len(ids), "the batch finished before the kill"
        saga.worker.start(fresh_data=True)  # nothing on disk: tables come from their changelogs

        await saga.observer.until(
            lambda: delivered() == len(ids), timeout_s=240, what="every order delivered"
        )
        # A record lost across the restart leaves its order stuck, or the next one refused.
        dead_letters = layout(saga.settings).spec(DEAD_LETTERS).name
        refused = [seen for seen in saga.observer.seen if seen.topic == dead_letters]
        assert not refused, [dict(seen.headers)[DEAD_LETTER_REASON_HEADER] for seen in refused]
        for order_id in ids:
            payments = {e.payment_id for e in saga.observer.events_of(order_id, PaymentSucceeded)}  # type: ignore[attr-defined]
            assert len(payments) == 1, f"{order_id} charged as {payments}"

        # Every dispatched unit leaves the shelf (CommitStock may still be on its way).
        expected = dict(zip(skus, _ordered_per_sku(skus, quantities), strict=True))
        await saga.observer.until(
            lambda: all(
                (stock := saga.observer.stock(sku)) is not None
                and (stock.on_hand, stock.reserved) == (1000 - expected[sku], 0)
                for sku in skus
            ),
            what="stock settled",
        )

        # The tables (as their changelogs hold them) and the read models agree. A table row is
        # written after the order's snapshot is acknowledged, so its changelog may trail it.
        def changelog_caught_up() -> bool:
            rows = saga.observer.changelogs["orders"]
            return all(
                (raw := rows.get(order_id.encode())) is not None
                and OrderState.model_validate_json(raw).version
                == saga.observer.states[order_id].version
                for order_id in ids
            )

        await saga.observer.until(changelog_caught_up, what="the orders changelog caught up")
        table_orders = {
            key.decode(): OrderState.model_validate_json(value)
            for key, value in saga.observer.changelogs["orders"].items()
        }
        table_stock = {sku: saga.observer.stock(sku) for sku in skus}
        pool = await asyncpg.create_pool(
            stack_settings.database_url.get_secret_value(), min_size=1, max_size=2
        )
        try:
            for order_id in ids:
                projected = await _eventually_projected(
                    pool, order_id, table_orders[order_id].version
                )
                assert (projected.status, projected.version) == (
                    table_orders[order_id].status,
                    table_orders[order_id].version,
                )
            wanted = {
                sku: (stock.on_hand, stock.reserved)
                for sku, stock in table_stock.items()
                if stock is not None
            }
            for _ in range(200):  # the stock projection may still be catching up
                levels = await get_stock_levels(pool, skus)
                if {sku: (lv.on_hand, lv.reserved) for sku, lv in levels.items()} == wanted:
                    break
                await asyncio.sleep(0.1)
            else:
                raise AssertionError(f"stock levels {levels} never matched the table {wanted}")
        finally:
            await pool.close()


async def test_a_worker_killed_with_a_batch_in_flight_settles_every_acknowledged_order_once(
    stack_settings: Settings, tmp_path: Path
) -> None:
    """Orders placed in one burst reach the worker faster than it applies them, so it takes
    them in batches of many, and a kill lands while a batch's outputs are on their way to
    Kafka. Every order Kafka acknowledged reaches its final state, once: one charge, one status
    change per status, every unit sold once."""
    skus = [f"SKU-{uuid.uuid4().hex[:6]}" for _ in range(4)]
    async with running_saga(stack_settings, tmp_path) as saga:
        for sku in skus:
            await saga.stock_up(sku, 200)
        orders = [saga.order([(skus[index % len(skus)], 1)]) for index in range(600)]
        await saga.publish(*orders)  # returns once Kafka has acknowledged every one
        ids = [order.order_id for order in orders]

        def paid() -> int:
            settled = ("paid", "shipped", "delivered")
            return sum(saga.observer.status(order_id) in settled for order_id in ids)

        await saga.observer.until(lambda: paid() >= 60, timeout_s=120, what="60 paid")
        batches = await _batch_sizes(saga.worker.metrics_url, "orders")
        saga.worker.kill()
        assert paid() < len(ids), "every order was paid before the kill"
        assert batches.larger_than_one > 0, f"the orders agent took no batch of many: {batches}"
        saga.worker.start(fresh_data=True)

        def delivered() -> int:
            return sum(saga.observer.status(order_id) == "delivered" for order_id in ids)

        await saga.observer.until(
            lambda: delivered() == len(ids), timeout_s=300, what="every order delivered"
        )
        dead_letters = layout(saga.settings).spec(DEAD_LETTERS).name
        refused = [seen for seen in saga.observer.seen if seen.topic == dead_letters]
        assert not refused, [dict(seen.headers)[DEAD_LETTER_REASON_HEADER] for seen in refused]
        journey = ["pending", "reserved", "paid", "shipped", "delivered"]
        for order_id in ids:
            # Records sent again after the kill carry the ids they had: dedupe by id, and what
            # is left is each status change once, in order.
            changes = {
                event.event_id: str(event.to_status)  # type: ignore[attr-defined]
                for event in saga.observer.events_of(order_id, OrderStatusChanged)
            }
            assert list(changes.values()) == journey, f"{order_id}: {list(changes.values())}"
            payments = {e.payment_id for e in saga.observer.events_of(order_id, PaymentSucceeded)}  # type: ignore[attr-defined]
            assert len(payments) == 1, f"{order_id} charged as {payments}"
        await saga.observer.until(
            lambda: all(
                (stock := saga.observer.stock(sku)) is not None
                and (stock.on_hand, stock.reserved) == (200 - 150, 0)
                for sku in skus
            ),
            what="every unit sold once",
        )


@dataclass(frozen=True)
class BatchSizes:
    batches: int
    larger_than_one: int


async def _batch_sizes(metrics_url: str, agent: str) -> BatchSizes:
    """How many batches the agent applied, and how many held more than one record."""
    async with httpx.AsyncClient() as client:
        text = (await client.get(metrics_url)).text
    families = {family.name: family for family in text_string_to_metric_families(text)}
    single = total = 0.0
    for sample in families["shopstream_stream_batch_records"].samples:
        if sample.labels.get("agent") != agent:
            continue
        if sample.name.endswith("_count"):
            total = sample.value
        elif sample.name.endswith("_bucket") and sample.labels.get("le") == "1.0":
            single = sample.value
    return BatchSizes(int(total), int(total - single))


def _ordered_per_sku(skus: list[str], quantities: list[int]) -> list[int]:
    return [
        sum(q for index, q in enumerate(quantities) if index % len(skus) == n)
        for n in range(len(skus))
    ]


async def _eventually_projected(pool: asyncpg.Pool, order_id: str, version: int) -> OrderDetail:
    for _ in range(200):
        detail = await get_order(pool, order_id)
        if detail is not None and detail.version >= version:
            return detail
        await asyncio.sleep(0.1)
    raise AssertionError(f"{order_id} not projected at version {version}")
