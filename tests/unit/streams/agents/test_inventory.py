"""The inventory agent under Faust's test context: its answers and stock table."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from streams.agents.inventory import inventory_agent, load
from streams.contract import (
    AdjustStock,
    OrderCancelled,
    ReleaseStock,
    ReserveStock,
    StockAdjusted,
    StockRejected,
    StockReleased,
    StockReserved,
    encode,
)
from streams.topics import INVENTORY_ADJUSTMENTS, INVENTORY_EVENTS
from tests.unit.streams.agents.conftest import (
    Sent,
    batch_count,
    put,
    reason_of,
    until_processed,
)

EXPIRES = datetime.now(UTC) + timedelta(minutes=15)


def reserve(order_id: str, quantity: int) -> ReserveStock:
    return ReserveStock(order_id=order_id, sku="MUG-01", quantity=quantity, expires_at=EXPIRES)


async def test_a_reservation_within_stock_is_answered_reserved_and_stored(
    sent: Sent,
) -> None:
    async with inventory_agent.test_context() as agent:
        assert await put(agent, AdjustStock(sku="MUG-01", set_to=3)) == "applied"
        assert await put(agent, reserve("ord-1", 2)) == "applied"

    [adjusted] = sent.events(INVENTORY_ADJUSTMENTS)
    assert isinstance(adjusted, StockAdjusted) and adjusted.on_hand == 3
    [answer] = sent.events(INVENTORY_EVENTS)
    assert isinstance(answer, StockReserved)
    assert (answer.order_id, answer.sku, answer.quantity) == ("ord-1", "MUG-01", 2)
    stored = load("MUG-01")
    assert (stored.on_hand, stored.reserved, stored.available) == (3, 2, 1)


async def test_the_last_unit_goes_to_the_first_order_and_the_second_is_rejected(
    sent: Sent,
) -> None:
    async with inventory_agent.test_context() as agent:
        await put(agent, AdjustStock(sku="MUG-01", set_to=1))
        await put(agent, reserve("ord-1", 1))
        await put(agent, reserve("ord-2", 1))

    first, second = sent.events(INVENTORY_EVENTS)
    assert isinstance(first, StockReserved) and first.order_id == "ord-1"
    assert isinstance(second, StockRejected) and second.order_id == "ord-2"
    assert (second.requested, second.available) == (1, 0)
    assert load("MUG-01").available == 0


async def test_a_redelivered_reservation_is_a_duplicate_that_holds_nothing_more(
    sent: Sent,
) -> None:
    reservation = reserve("ord-1", 2)
    async with inventory_agent.test_context() as agent:
        await put(agent, AdjustStock(sku="MUG-01", set_to=5))
        assert await put(agent, reservation) == "applied"
        assert await put(agent, reservation) == "duplicate"

    assert len(sent.events(INVENTORY_EVENTS)) == 1
    assert load("MUG-01").reserved == 2


async def test_a_release_frees_what_the_order_held(sent: Sent) -> None:
    async with inventory_agent.test_context() as agent:
        await put(agent, AdjustStock(sku="MUG-01", set_to=5))
        await put(agent, reserve("ord-1", 2))
        await put(
            agent, ReleaseStock(order_id="ord-1", sku="MUG-01", quantity=2, reason="cancelled")
        )

    released = sent.events(INVENTORY_EVENTS)[-1]
    assert isinstance(released, StockReleased) and released.quantity == 2
    assert load("MUG-01").available == 5


async def test_an_adjustment_below_what_is_reserved_is_dead_lettered_and_changes_nothing(
    sent: Sent,
) -> None:
    async with inventory_agent.test_context() as agent:
        await put(agent, AdjustStock(sku="MUG-01", set_to=3))
        await put(agent, reserve("ord-1", 3))
        assert await put(agent, AdjustStock(sku="MUG-01", delta=-1)) == "dead_lettered"

    [dead] = sent.dead_letters()
    assert reason_of(dead)
    assert len(sent.events(INVENTORY_ADJUSTMENTS)) == 1
    assert (load("MUG-01").on_hand, load("MUG-01").reserved) == (3, 3)


async def test_an_event_for_another_agent_is_dead_lettered_with_the_reason(sent: Sent) -> None:
    async with inventory_agent.test_context() as agent:
        assert await put(agent, OrderCancelled(order_id="ord-1", reason="no")) == "dead_lettered"

    [dead] = sent.dead_letters()
    assert reason_of(dead) == "the inventory agent does not consume OrderCancelled"
    assert sent.events(INVENTORY_EVENTS) == []


async def test_bytes_outside_the_contract_are_dead_lettered_unchanged(sent: Sent) -> None:
    async with inventory_agent.test_context() as agent:
        await agent.put(b"not json", key=b"MUG-01")
        assert agent.results[0] == "dead_lettered"

    [dead] = sent.dead_letters()
    assert (dead.key, dead.value) == (b"MUG-01", b"not json")
    assert reason_of(dead)


async def test_a_batch_is_decided_in_order_against_its_own_rows_and_a_poison_record_is_set_aside(
    sent: Sent,
) -> None:
    records = [
        encode(AdjustStock(sku="MUG-01", set_to=2)),
        encode(reserve("ord-1", 1)),
        b'{"type": "ReserveStock", "sku": "MUG-01"',  # cut short: not JSON
        encode(reserve("ord-2", 1)),
        encode(reserve("ord-3", 1)),
    ]
    batches_before = batch_count("inventory")
    async with inventory_agent.test_context() as agent:
        # Queued before the agent runs: it takes them as one batch.
        for record in records:
            await agent.put(record, key=b"MUG-01", wait=False)
        await until_processed(agent, len(records))
        results = [agent.results[offset] for offset in range(len(records))]

    assert results == ["applied", "applied", "dead_lettered", "applied", "applied"]
    assert batch_count("inventory") == batches_before + 1
    # ord-2 took the last unit the batch's own row had left, so ord-3 found none.
    answers = [(event.type, event.key) for event in sent.events(INVENTORY_EVENTS)]
    assert answers == [
        ("StockReserved", "ord-1"),
        ("StockReserved", "ord-2"),
        ("StockRejected", "ord-3"),
    ]
    [poison] = sent.dead_letters()
    assert poison.value == records[2] and "not JSON" in reason_of(poison)
    assert load("MUG-01").available == 0
