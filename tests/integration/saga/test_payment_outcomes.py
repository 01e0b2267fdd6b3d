"""Payments whose outcome goes wrong, through the real saga: a charge nobody heard the answer
to, and a refund the provider refuses, which an operator retries from the command line.

The worker's payment function is the simulation, in process: its card
``tok_simulatedLateAnswer`` is charged but answered after the invoker stops waiting (1 s here),
so the outcome is unknown until the payments agent looks it up; ``tok_refundFail`` is charged,
and every refund of it is refused.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from shopstream.settings import REPO_ROOT, Settings
from streams.contract import (
    OrderCancelled,
    PaymentRefunded,
    PaymentRequested,
    PaymentSucceeded,
    RefundFailed,
    RefundRequested,
    RefundRetryRequested,
)
from streams.domain.payments import Unsettled, idempotency_key
from streams.projections.order_status import OrderDetail, get_order
from streams.publisher import layout
from streams.topics import DEAD_LETTERS
from tests.integration.polling import eventually
from tests.integration.saga.conftest import Saga, running_saga

SHOPSTREAM = str(REPO_ROOT / ".venv" / "bin" / "shopstream")
TIMING = {
    "SHOPSTREAM_PAYMENT_TIMEOUT_S": "1",
    "SHOPSTREAM_PAYMENT_MAX_ATTEMPTS": "2",
    "SHOPSTREAM_PAYMENT_RECONCILE_INTERVAL_S": "0.5",
    "SHOPSTREAM_PAYMENT_RECONCILE_MAX_WAIT_S": "1",
    "SHOPSTREAM_PAYMENT_RECONCILE_SETTLE_S": "3",
}


@pytest.fixture(scope="module")
async def saga(
    stack_settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Saga]:
    async with running_saga(stack_settings, tmp_path_factory.mktemp("payments"), **TIMING) as s:
        yield s


@pytest.fixture
async def pool(stack_settings: Settings) -> AsyncIterator[Any]:
    opened = await asyncpg.create_pool(
        stack_settings.database_url.get_secret_value(), min_size=1, max_size=2
    )
    try:
        yield opened
    finally:
        await opened.close()


def unsettled_rows(saga: Saga, key: str) -> list[Unsettled]:
    """Every write of the key's row in the payments agent's table of unknown outcomes."""
    topic = saga.observer.changelog_topic("payments-unsettled")
    return [
        Unsettled.model_validate_json(seen.value)
        for seen in list(saga.observer.seen)
        if seen.topic == topic and seen.key == key.encode() and seen.value is not None
    ]


def dead_letters_of(saga: Saga, order_id: str) -> list[bytes | None]:
    topic = layout(saga.settings).spec(DEAD_LETTERS).name
    return [
        seen.value
        for seen in saga.observer.seen
        if seen.topic == topic and seen.key == order_id.encode()
    ]


async def projected(pool: Any, order_id: str, refund_status: str) -> OrderDetail:
    async def check() -> OrderDetail | None:
        order = await get_order(pool, order_id)
        return order if order is not None and order.refund_status == refund_status else None

    return await eventually(check, f"{order_id} projected with its refund {refund_status}")


async def test_a_charge_answered_too_late_is_looked_up_and_the_order_paid_once(
    saga: Saga, sku: str
) -> None:
    await saga.stock_up(sku, 1)
    order = await saga.place([(sku, 1)], card="tok_simulatedLateAnswer")
    await saga.reaches(order.order_id, "paid", "shipped", "delivered")

    # The invoker gave up on the charge, so the agent kept it unsettled, then found it.
    rows = unsettled_rows(saga, idempotency_key(order.order_id, 1))
    assert rows and rows[0].settled_at is None and "timed out" in rows[0].trouble
    await saga.observer.until(
        lambda: unsettled_rows(saga, idempotency_key(order.order_id, 1))[-1].settled_at is not None,
        what="the unsettled charge settled",
    )
    charges = saga.observer.events_of(order.order_id, PaymentSucceeded)
    assert len({charge.event_id for charge in charges}) == 1
    assert len(saga.observer.events_of(order.order_id, PaymentRequested)) == 1
    assert dead_letters_of(saga, order.order_id) == []


async def test_a_charge_found_after_the_order_was_cancelled_is_refunded(
    saga: Saga, sku: str
) -> None:
    await saga.stock_up(sku, 2)
    order = await saga.place([(sku, 2)], card="tok_simulatedLateAnswer")
    await saga.observer.until(
        lambda: bool(saga.observer.events_of(order.order_id, PaymentRequested)),
        what="the payment requested",
    )
    # The charge is under way (and its answer will be lost): the customer cancels meanwhile.
    await saga.publish(OrderCancelled(order_id=order.order_id, reason="took too long"))
    await saga.reaches(order.order_id, "cancelled")
    await saga.observer.until(
        lambda: bool(saga.observer.events_of(order.order_id, PaymentRefunded)),
        timeout_s=60,
        what="the charge found later, refunded",
    )
    [charge] = saga.observer.events_of(order.order_id, PaymentSucceeded)
    [refund] = saga.observer.events_of(order.order_id, PaymentRefunded)
    assert (refund.payment_id, refund.amount_cents) == (  # type: ignore[attr-defined]
        charge.payment_id,  # type: ignore[attr-defined]
        order.total_cents,
    )
    await saga.observer.until(
        lambda: saga.observer.states[order.order_id].refund_status == "refunded",
        what="the order's refund recorded",
    )
    stock = saga.observer.stock(sku)
    assert stock is not None and (stock.on_hand, stock.reserved) == (2, 0)


def shopstream(saga: Saga, *args: str) -> subprocess.CompletedProcess[str]:
    """The command line as an operator runs it, on this saga's topics."""
    return subprocess.run(
        [SHOPSTREAM, *args],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "SHOPSTREAM_TOPIC_PREFIX": saga.settings.topic_prefix},
    )


async def test_a_refused_refund_shows_on_the_order_and_an_operator_retry_asks_again(
    saga: Saga, sku: str, pool: Any
) -> None:
    await saga.stock_up(sku, 1)
    # The carrier fails every parcel to this postal code: the paid order waits, cancellable.
    order = await saga.place([(sku, 1)], card="tok_refundFail", postal_code="00000")
    await saga.reaches(order.order_id, "shipping_problem")
    await eventually(lambda: get_order(pool, order.order_id), f"{order.order_id} in the read model")
    nothing_failed = await asyncio.to_thread(
        shopstream, saga, "order", "refund-retry", order.order_id
    )
    assert nothing_failed.returncode == 1
    assert "only a failed refund is retried" in nothing_failed.stderr

    await saga.publish(OrderCancelled(order_id=order.order_id, reason="too slow"))
    await saga.observer.until(
        lambda: bool(saga.observer.events_of(order.order_id, RefundFailed)),
        what="the refund refused",
    )
    [failed] = saga.observer.events_of(order.order_id, RefundFailed)
    assert isinstance(failed, RefundFailed)
    assert (failed.attempt, failed.code, failed.amount_cents) == (1, "refused", order.total_cents)
    shown = await projected(pool, order.order_id, "failed")
    assert shown.status == "cancelled"
    assert shown.refund_failure_reason is not None
    assert "expired_or_canceled_card" in shown.refund_failure_reason
    assert shown.refunded_cents == 0
    assert dead_letters_of(saga, order.order_id) == []

    retried = await asyncio.to_thread(
        shopstream, saga, "order", "refund-retry", order.order_id, "--timeout", "60"
    )
    # The provider refuses this card's refunds every time: the retry fails again, visibly.
    assert retried.returncode == 1, retried.stdout + retried.stderr
    assert "failed again" in retried.stdout
    [retry] = saga.observer.events_of(order.order_id, RefundRetryRequested)
    assert isinstance(retry, RefundRetryRequested) and retry.reason == "retried by an operator"
    requests = saga.observer.events_of(order.order_id, RefundRequested)
    assert [r.attempt for r in requests] == [1, 2]  # type: ignore[attr-defined]
    # A new attempt, a new idempotency key: the provider was asked anew, not replayed.
    failures = saga.observer.events_of(order.order_id, RefundFailed)
    assert [f.attempt for f in failures] == [1, 2]  # type: ignore[attr-defined]
    assert saga.observer.events_of(order.order_id, PaymentRefunded) == []
