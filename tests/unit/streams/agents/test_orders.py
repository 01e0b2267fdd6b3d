"""The orders agent under Faust's test context: the saga's next steps and its table."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from streams.agents.orders import load, orders, orders_agent
from streams.contract import (
    Address,
    OrderLine,
    OrderNews,
    OrderPlaced,
    OrderStatus,
    OrderStatusChanged,
    PaymentRequested,
    PaymentSucceeded,
    ReleaseStock,
    ReserveStock,
    StockRejected,
    StockReserved,
)
from streams.domain.order_saga import OrderState
from streams.topics import (
    INVENTORY_COMMANDS,
    PAYMENTS_COMMANDS,
    TOPICS,
)
from tests.unit.streams.agents.conftest import Sent, put, reason_of

ADDRESS = Address(name="Ada", line1="1 Main St", city="Paris", postal_code="75001", country="FR")
EXPIRES = datetime.now(UTC) + timedelta(minutes=15)


def placed(order_id: str = "ord-1") -> OrderPlaced:
    return OrderPlaced(
        order_id=order_id,
        user_id="usr-1",
        lines=(
            OrderLine(sku="MUG-01", quantity=2, unit_price_cents=1250),
            OrderLine(sku="TEE-M", quantity=1, unit_price_cents=2000),
        ),
        total_cents=4500,
        currency="EUR",
        shipping_address=ADDRESS,
        payment_token="tok_visa",
    )


def reserved(sku: str, quantity: int) -> StockReserved:
    return StockReserved(order_id="ord-1", sku=sku, quantity=quantity, expires_at=EXPIRES)


def sent_count(sent: Sent) -> int:
    return sum(len(sent.records(topic)) for topic in TOPICS)


@pytest.fixture
def news(monkeypatch: pytest.MonkeyPatch) -> list[OrderNews]:
    """The news of every order row the agent stores, in the order it stores them."""
    stored: list[OrderNews] = []
    dump = orders.dump

    def dump_and_keep(row: OrderState) -> bytes:
        stored.extend(row.news)
        return dump(row)

    monkeypatch.setattr(orders, "dump", dump_and_keep)
    return stored


def statuses(news: list[OrderNews]) -> list[OrderStatus]:
    return [change.to_status for change in news if isinstance(change, OrderStatusChanged)]


async def test_a_placed_order_is_pending_and_asks_inventory_for_every_line(
    sent: Sent, news: list[OrderNews]
) -> None:
    async with orders_agent.test_context() as agent:
        assert await put(agent, placed()) == "applied"

    assert statuses(news) == [OrderStatus.PENDING]
    commands = sent.events(INVENTORY_COMMANDS)
    reservations = [(c.sku, c.quantity) for c in commands if isinstance(c, ReserveStock)]
    assert reservations == [("MUG-01", 2), ("TEE-M", 1)] and len(commands) == 2
    state = load("ord-1")
    assert state is not None and state.status is OrderStatus.PENDING
    # The row says why the order is in its status: the read models show it.
    assert state.status_reason == "order placed"


async def test_the_last_line_reserved_moves_the_order_to_reserved_and_requests_payment(
    sent: Sent, news: list[OrderNews]
) -> None:
    async with orders_agent.test_context() as agent:
        await put(agent, placed())
        await put(agent, reserved("MUG-01", 2))
        assert sent.events(PAYMENTS_COMMANDS) == []
        await put(agent, reserved("TEE-M", 1))

    assert statuses(news) == [OrderStatus.PENDING, OrderStatus.RESERVED]
    [request] = sent.events(PAYMENTS_COMMANDS)
    assert isinstance(request, PaymentRequested)
    assert (request.amount_cents, request.payment_token, request.attempt) == (4500, "tok_visa", 1)
    state = load("ord-1")
    assert state is not None and state.status is OrderStatus.RESERVED


async def test_a_rejected_line_rejects_the_order_and_releases_the_lines_already_held(
    sent: Sent, news: list[OrderNews]
) -> None:
    async with orders_agent.test_context() as agent:
        await put(agent, placed())
        await put(agent, reserved("MUG-01", 2))
        await put(agent, StockRejected(order_id="ord-1", sku="TEE-M", requested=1, available=0))

    assert statuses(news)[-1] is OrderStatus.REJECTED
    release = sent.events(INVENTORY_COMMANDS)[-1]
    assert isinstance(release, ReleaseStock) and (release.sku, release.quantity) == ("MUG-01", 2)
    assert sent.events(PAYMENTS_COMMANDS) == []


async def test_a_redelivered_answer_is_a_duplicate_that_sends_and_stores_nothing(
    sent: Sent,
) -> None:
    answer = reserved("MUG-01", 2)
    async with orders_agent.test_context() as agent:
        await put(agent, placed())
        await put(agent, answer)
        stored = load("ord-1")
        sent_before = sent_count(sent)
        assert await put(agent, answer) == "duplicate"

    assert sent_count(sent) == sent_before
    assert load("ord-1") == stored


async def test_an_event_for_an_unknown_order_is_dead_lettered_and_nothing_is_stored(
    sent: Sent, news: list[OrderNews]
) -> None:
    payment = PaymentSucceeded(
        order_id="ord-9", payment_id="pay_1", amount_cents=10, currency="EUR", attempt=1
    )
    async with orders_agent.test_context() as agent:
        assert await put(agent, payment) == "dead_lettered"

    [dead] = sent.dead_letters()
    assert "unknown order ord-9" in reason_of(dead)
    assert load("ord-9") is None
    assert news == []


async def test_a_second_order_placed_with_the_same_id_is_dead_lettered(
    sent: Sent, news: list[OrderNews]
) -> None:
    async with orders_agent.test_context() as agent:
        await put(agent, placed())
        assert await put(agent, placed()) == "dead_lettered"

    assert "already placed" in reason_of(sent.dead_letters()[0])
    assert statuses(news) == [OrderStatus.PENDING]
