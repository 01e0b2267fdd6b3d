from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from streams.contract import (
    Address,
    AnyEvent,
    OrderLine,
    OrderPlaced,
    OrderStatus,
    PaymentSucceeded,
    ShippingAddressChanged,
    StockReserved,
)
from streams.domain.order_saga import OrderState, SagaPolicy, decide
from streams.projections.order_status import (
    get_order,
    list_orders_for_user,
    project_orders,
)
from tests.integration.projections.helpers import project_one

T0 = datetime(2025, 3, 1, 12, tzinfo=UTC)
POLICY = SagaPolicy()
ADDRESS = Address(name="Ada", line1="1 Main St", city="Berlin", postal_code="10115", country="DE")
# Not in SKU order, so that keeping the placed order of the lines is visible.
LINES = (
    OrderLine(sku="TEE-M", quantity=1, unit_price_cents=2000),
    OrderLine(sku="MUG-01", quantity=2, unit_price_cents=1250),
)


class Journey:
    """One order driven through the real saga; ``states[n]`` is the state at version n + 1."""

    def __init__(self, order_id: str, user_id: str, placed_at: datetime = T0) -> None:
        self.order_id = order_id
        self.at = placed_at
        self.states: list[OrderState] = []
        self.apply(
            OrderPlaced(
                order_id=order_id,
                user_id=user_id,
                lines=LINES,
                total_cents=4500,
                currency="EUR",
                shipping_address=ADDRESS,
                payment_token="tok_visa",
            )
        )

    @property
    def state(self) -> OrderState:
        return self.states[-1]

    def apply(self, event: AnyEvent) -> OrderState:
        state = self.states[-1] if self.states else None
        decision = decide(state, event, self.at, POLICY)
        assert decision.refused is None and decision.state is not None
        self.states.append(decision.state)
        self.at += timedelta(seconds=1)
        return decision.state

    def reserve(self, sku: str) -> OrderState:
        expires = self.state.reservation_expires_at
        quantity = next(line.quantity for line in LINES if line.sku == sku)
        return self.apply(
            StockReserved(order_id=self.order_id, sku=sku, quantity=quantity, expires_at=expires)
        )

    def pay(self) -> OrderState:
        for line in LINES:
            self.reserve(line.sku)
        return self.apply(
            PaymentSucceeded(
                order_id=self.order_id,
                payment_id=f"pay-{self.order_id}",
                amount_cents=4500,
                currency="EUR",
                attempt=1,
            )
        )

    async def project(self, pool: Any, version: int) -> bool:
        """Project the state at ``version``; return whether the order's row was written."""
        return await project_one(pool, self.states[version - 1])


async def test_a_placed_order_is_projected_pending_with_its_lines_in_placed_order(
    pool: Any, unique: str
) -> None:
    journey = Journey(f"ord-{unique}", f"usr-{unique}")

    assert await journey.project(pool, 1) is True

    order = await get_order(pool, journey.order_id)
    assert order is not None
    assert (order.status, order.status_reason, order.version) == (
        OrderStatus.PENDING,
        "order placed",
        1,
    )
    assert (order.user_id, order.total_cents, order.currency) == (f"usr-{unique}", 4500, "EUR")
    assert order.shipping_address == ADDRESS
    assert order.lines == LINES
    assert order.created_at == order.updated_at == T0


async def test_a_paid_state_projected_after_the_pending_one_shows_paid(
    pool: Any, unique: str
) -> None:
    journey = Journey(f"ord-{unique}", f"usr-{unique}")
    paid = journey.pay()
    await journey.project(pool, 1)

    assert await journey.project(pool, paid.version) is True

    order = await get_order(pool, journey.order_id)
    assert order is not None
    assert (order.status, order.status_reason, order.version) == (
        OrderStatus.PAID,
        "payment received",
        paid.version,
    )
    assert (order.payment_id, order.paid_cents) == (f"pay-ord-{unique}", 4500)
    assert order.created_at == T0  # the placement time survives updates
    assert order.updated_at == paid.updated_at


async def test_an_older_state_after_a_newer_one_changes_nothing(pool: Any, unique: str) -> None:
    journey = Journey(f"ord-{unique}", f"usr-{unique}")
    paid = journey.pay()
    await journey.project(pool, paid.version)

    assert await journey.project(pool, 1) is False

    order = await get_order(pool, journey.order_id)
    assert order is not None
    assert (order.status, order.version) == (OrderStatus.PAID, paid.version)


async def test_a_changed_address_is_projected_and_an_older_state_never_restores_the_old_one(
    pool: Any, unique: str
) -> None:
    journey = Journey(f"ord-{unique}", f"usr-{unique}")
    new_address = ADDRESS.model_copy(update={"line1": "2 New Street", "postal_code": "10117"})
    changed = journey.apply(
        ShippingAddressChanged(order_id=journey.order_id, shipping_address=new_address)
    )
    await journey.project(pool, 1)
    assert await journey.project(pool, changed.version) is True
    # The placement's state, redelivered late, carries the old address: it must not win.
    assert await journey.project(pool, 1) is False

    order = await get_order(pool, journey.order_id)
    assert order is not None
    assert (order.shipping_address, order.version) == (new_address, changed.version)
    assert (order.status, order.status_reason) == (OrderStatus.PENDING, "order placed")


async def test_the_same_state_projected_twice_changes_something_only_once(
    pool: Any, unique: str
) -> None:
    journey = Journey(f"ord-{unique}", f"usr-{unique}")

    assert [await journey.project(pool, 1), await journey.project(pool, 1)] == [True, False]


async def test_lines_are_written_with_the_first_state_and_never_rewritten(
    pool: Any, unique: str
) -> None:
    journey = Journey(f"ord-{unique}", f"usr-{unique}")
    paid = journey.pay()
    # xmin is the id of the transaction that wrote the row version: unchanged means unwritten.
    lines_sql = "SELECT sku, xmin::text AS writer FROM order_lines WHERE order_id = $1 ORDER BY sku"

    await journey.project(pool, 1)
    written = await pool.fetch(lines_sql, journey.order_id)
    for version in range(2, paid.version + 1):
        await journey.project(pool, version)
    after = await pool.fetch(lines_sql, journey.order_id)

    assert [tuple(row) for row in after] == [tuple(row) for row in written]
    assert [row["sku"] for row in after] == ["MUG-01", "TEE-M"]


async def test_an_order_first_seen_at_a_later_version_still_gets_its_lines(
    pool: Any, unique: str
) -> None:
    journey = Journey(f"ord-{unique}", f"usr-{unique}")
    paid = journey.pay()

    assert await journey.project(pool, paid.version) is True

    order = await get_order(pool, journey.order_id)
    assert order is not None
    assert order.lines == LINES


async def test_a_state_that_keeps_the_status_keeps_the_reason_for_it(
    pool: Any, unique: str
) -> None:
    journey = Journey(f"ord-{unique}", f"usr-{unique}")
    still_pending = journey.reserve("TEE-M")  # one line of two: the order stays PENDING
    await journey.project(pool, 1)

    assert still_pending.status_reason == "order placed"  # the saga's row keeps it too
    assert await journey.project(pool, still_pending.version) is True

    order = await get_order(pool, journey.order_id)
    assert order is not None
    assert (order.status, order.status_reason, order.version) == (
        OrderStatus.PENDING,
        "order placed",
        2,
    )


async def test_a_new_status_without_a_reason_clears_the_old_reason(pool: Any, unique: str) -> None:
    journey = Journey(f"ord-{unique}", f"usr-{unique}")
    paid = journey.pay()
    await journey.project(pool, 1)

    # A row from before the saga kept a reason for its status.
    await project_orders(pool, [paid.model_copy(update={"status_reason": None})])

    order = await get_order(pool, journey.order_id)
    assert order is not None
    assert (order.status, order.status_reason) == (OrderStatus.PAID, None)


async def test_states_projected_concurrently_in_any_order_end_at_the_newest(
    pool: Any, unique: str
) -> None:
    journey = Journey(f"ord-{unique}", f"usr-{unique}")
    paid = journey.pay()
    versions = [v for v in range(1, paid.version + 1) for _ in range(3)]
    random.Random(unique).shuffle(versions)  # noqa: S311 - a seeded shuffle, not a secret

    await asyncio.gather(*(journey.project(pool, v) for v in versions))

    order = await get_order(pool, journey.order_id)
    assert order is not None
    assert (order.status, order.version, order.lines) == (OrderStatus.PAID, paid.version, LINES)


async def test_a_batch_of_states_ends_as_if_each_was_projected_in_turn(
    pool: Any, unique: str
) -> None:
    journey = Journey(f"ord-{unique}", f"usr-{unique}")
    paid = journey.pay()
    other = Journey(f"ord-{unique}-b", f"usr-{unique}")
    # Every state of both orders, the first order's twice and its placement again at the end:
    # the version guard holds inside a batch too, and the reason is the newest state's.
    states = journey.states
    batch = [*states, other.state, *states, states[0]]

    await project_orders(pool, batch)

    order = await get_order(pool, journey.order_id)
    assert order is not None
    assert (order.status, order.status_reason, order.version, order.lines) == (
        OrderStatus.PAID,
        "payment received",
        paid.version,
        LINES,
    )
    assert order.created_at == T0
    placed = await get_order(pool, other.order_id)
    assert placed is not None and placed.status is OrderStatus.PENDING


async def test_an_order_never_projected_is_not_found(pool: Any, unique: str) -> None:
    assert await get_order(pool, f"ord-{unique}") is None


async def test_a_users_orders_are_listed_newest_first_page_by_page(pool: Any, unique: str) -> None:
    user = f"usr-{unique}"
    ids = [f"ord-{unique}-{n}" for n in range(5)]
    for n, order_id in enumerate(ids):
        await Journey(order_id, user, T0 + timedelta(minutes=n)).project(pool, 1)
    newest_first = ids[::-1]

    pages: list[list[str]] = []
    before: str | None = None
    while page := await list_orders_for_user(pool, user, limit=2, before=before):
        pages.append([order.order_id for order in page])
        before = page[-1].order_id

    assert pages == [newest_first[0:2], newest_first[2:4], newest_first[4:]]


async def test_paging_loses_no_order_among_orders_placed_at_the_same_instant(
    pool: Any, unique: str
) -> None:
    user = f"usr-{unique}"
    ids = {f"ord-{unique}-{n}" for n in range(4)}
    for order_id in ids:
        await Journey(order_id, user).project(pool, 1)

    seen: list[str] = []
    before: str | None = None
    while page := await list_orders_for_user(pool, user, limit=1, before=before):
        seen.extend(order.order_id for order in page)
        before = page[-1].order_id

    assert sorted(seen) == sorted(ids)


async def test_a_user_sees_only_their_own_orders(pool: Any, unique: str) -> None:
    mine, theirs = (
        Journey(f"ord-{unique}-a", f"usr-{unique}-a"),
        Journey(f"ord-{unique}-b", f"usr-{unique}-b"),
    )
    await mine.project(pool, 1)
    await theirs.project(pool, 1)

    listed = await list_orders_for_user(pool, f"usr-{unique}-a", limit=10)
    # Another user's order as the cursor leaks nothing about it: the page is just empty.
    with_their_cursor = await list_orders_for_user(
        pool, f"usr-{unique}-a", limit=10, before=theirs.order_id
    )

    assert [order.order_id for order in listed] == [mine.order_id]
    assert with_their_cursor == []


async def test_listing_a_user_without_orders_gives_an_empty_list(pool: Any, unique: str) -> None:
    assert await list_orders_for_user(pool, f"usr-{unique}", limit=10) == []


async def test_listing_refuses_a_limit_below_one(pool: Any, unique: str) -> None:
    with pytest.raises(ValueError, match="limit must be at least 1"):
        await list_orders_for_user(pool, f"usr-{unique}", limit=0)
