from contextlib import suppress
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from streams.contract import (
    AdjustStock,
    CommitStock,
    EventBase,
    ReleaseStock,
    ReserveStock,
    StockAdjusted,
    StockRejected,
    StockReserved,
)
from streams.domain.inventory import (
    AdjustmentRefused,
    InventoryCommand,
    Stock,
    adjust,
    apply_command,
    commit,
    release,
    reserve,
)

NOW = datetime(2025, 3, 1, 12, tzinfo=UTC)
LATER = NOW + timedelta(minutes=15)


def reserve_cmd(order_id: str, quantity: int = 1, expires_at: datetime = LATER) -> ReserveStock:
    return ReserveStock(order_id=order_id, sku="MUG", quantity=quantity, expires_at=expires_at)


def release_cmd(order_id: str, quantity: int = 1) -> ReleaseStock:
    return ReleaseStock(order_id=order_id, sku="MUG", quantity=quantity, reason="order cancelled")


def stock(on_hand: int = 10) -> Stock:
    return Stock(sku="MUG", on_hand=on_hand)


# --- reserve ----------------------------------------------------------------------------


def test_a_reservation_within_stock_decrements_what_is_available() -> None:
    after, answer = reserve(stock(10), reserve_cmd("ord-1", 3), NOW)
    assert isinstance(answer, StockReserved)
    assert (answer.order_id, answer.sku, answer.quantity, answer.expires_at) == (
        "ord-1",
        "MUG",
        3,
        LATER,
    )
    assert (after.on_hand, after.reserved, after.available) == (10, 3, 7)


def test_a_reservation_beyond_stock_is_rejected_and_changes_nothing() -> None:
    before = stock(2)
    after, answer = reserve(before, reserve_cmd("ord-1", 3), NOW)
    assert isinstance(answer, StockRejected)
    assert (answer.requested, answer.available) == (3, 2)
    assert after == before


def test_the_last_unit_goes_to_exactly_one_of_two_buyers() -> None:
    after, first = reserve(stock(1), reserve_cmd("ord-1"), NOW)
    after, second = reserve(after, reserve_cmd("ord-2"), NOW)
    assert isinstance(first, StockReserved)
    assert isinstance(second, StockRejected)
    assert after.available == 0


def test_fifty_buyers_of_one_unit_against_ten_in_stock_get_exactly_ten() -> None:
    current = stock(10)
    answers = []
    for n in range(50):
        current, answer = reserve(current, reserve_cmd(f"ord-{n}"), NOW)
        answers.append(answer)
    won = [a.order_id for a in answers if isinstance(a, StockReserved)]
    assert won == [f"ord-{n}" for n in range(10)]
    assert sum(isinstance(a, StockRejected) for a in answers) == 40
    assert (current.reserved, current.available) == (10, 0)


def test_a_repeated_reservation_answers_the_same_without_decrementing_twice() -> None:
    once, first = reserve(stock(10), reserve_cmd("ord-1", 3), NOW)
    twice, second = reserve(once, reserve_cmd("ord-1", 3), NOW + timedelta(seconds=1))
    assert twice == once
    assert isinstance(second, StockReserved)
    fields = {"order_id", "sku", "quantity", "expires_at"}
    assert second.model_dump(include=fields) == first.model_dump(include=fields)


def test_a_redelivered_reservation_command_gets_an_answer_with_the_same_id() -> None:
    command = reserve_cmd("ord-1")
    held, first = reserve(stock(), command, NOW)
    _, second = reserve(held, command, NOW)
    assert first.event_id == second.event_id


def test_a_repeated_reservation_answers_with_what_is_held_even_if_asked_for_more() -> None:
    held, _ = reserve(stock(10), reserve_cmd("ord-1", 2), NOW)
    again, answer = reserve(held, reserve_cmd("ord-1", 5), NOW)
    assert again == held
    assert isinstance(answer, StockReserved)
    assert answer.quantity == 2


def test_an_answer_goes_back_keyed_by_order_with_the_commands_trace() -> None:
    command = reserve_cmd("ord-1")
    _, answer = reserve(stock(), command, NOW)
    assert (answer.key, answer.trace_id, answer.occurred_at) == ("ord-1", command.trace_id, NOW)
    assert answer.event_id != command.event_id


def test_available_never_goes_negative_over_a_mixed_sequence() -> None:
    current = stock(5)
    for step in range(200):
        order = f"ord-{step % 7}"
        match step % 3:
            case 0:
                current, _ = reserve(current, reserve_cmd(order, 1 + step % 4), NOW)
            case 1:
                current, _ = release(current, release_cmd(order), NOW)
            case _:
                delta = 1 if step % 2 else -1
                # Taking away units promised to orders is refused; that is part of the point.
                with suppress(AdjustmentRefused):
                    current, _ = adjust(current, AdjustStock(sku="MUG", delta=delta), NOW)
        assert 0 <= current.available <= current.on_hand


# --- release ----------------------------------------------------------------------------


def test_releasing_frees_the_orders_whole_reservation() -> None:
    held, _ = reserve(stock(10), reserve_cmd("ord-1", 3), NOW)
    after, answer = release(held, release_cmd("ord-1", 3), NOW)
    assert answer.quantity == 3
    assert (after.reserved, after.available) == (0, 10)


def test_releasing_twice_is_a_no_op_that_answers_quantity_zero() -> None:
    held, _ = reserve(stock(10), reserve_cmd("ord-1", 3), NOW)
    once, _ = release(held, release_cmd("ord-1", 3), NOW)
    twice, answer = release(once, release_cmd("ord-1", 3), NOW)
    assert twice == once
    assert answer.quantity == 0


def test_releasing_what_was_never_held_changes_nothing() -> None:
    held, _ = reserve(stock(10), reserve_cmd("ord-1", 3), NOW)
    after, answer = release(held, release_cmd("ord-2"), NOW)
    assert after == held
    assert (answer.order_id, answer.quantity) == ("ord-2", 0)


def test_an_order_may_reserve_again_after_releasing() -> None:
    held, _ = reserve(stock(3), reserve_cmd("ord-1", 3), NOW)
    freed, _ = release(held, release_cmd("ord-1", 3), NOW)
    again, answer = reserve(freed, reserve_cmd("ord-1", 3), NOW)
    assert isinstance(answer, StockReserved)
    assert again.available == 0


# --- adjust -----------------------------------------------------------------------------


def test_a_delta_adds_or_removes_units_on_hand() -> None:
    after, answer = adjust(stock(10), AdjustStock(sku="MUG", delta=5), NOW)
    assert (after.on_hand, answer.on_hand, answer.key) == (15, 15, "MUG")
    after, answer = adjust(after, AdjustStock(sku="MUG", delta=-15), NOW)
    assert after.on_hand == answer.on_hand == 0


def test_a_stocktake_sets_the_count_and_keeps_reservations() -> None:
    held, _ = reserve(stock(10), reserve_cmd("ord-1", 3), NOW)
    after, _ = adjust(held, AdjustStock(sku="MUG", set_to=4), NOW)
    assert (after.on_hand, after.reserved, after.available) == (4, 3, 1)


@pytest.mark.parametrize(
    "cmd",
    [AdjustStock(sku="MUG", set_to=2), AdjustStock(sku="MUG", delta=-8)],
    ids=["set_to", "delta"],
)
def test_an_adjustment_below_what_is_reserved_is_refused(cmd: AdjustStock) -> None:
    held, _ = reserve(stock(10), reserve_cmd("ord-1", 3), NOW)
    with pytest.raises(AdjustmentRefused) as caught:
        adjust(held, cmd, NOW)
    assert "below the 3 units reserved for orders" in caught.value.reason


def test_an_adjustment_cannot_make_stock_negative() -> None:
    with pytest.raises(AdjustmentRefused, match="on_hand would become -1"):
        adjust(stock(0), AdjustStock(sku="MUG", delta=-1), NOW)


# --- the model's own guards -------------------------------------------------------------


def test_stock_refuses_more_reserved_than_on_hand() -> None:
    with pytest.raises(ValidationError, match="3 reserved but only 2 held"):
        Stock(sku="MUG", on_hand=2, reservations={"ord-1": 3})


def test_stock_refuses_a_negative_count() -> None:
    with pytest.raises(ValidationError, match="on_hand"):
        Stock(sku="MUG", on_hand=-1)


@pytest.mark.parametrize("apply", ["reserve", "release", "adjust"])
def test_a_command_for_another_sku_is_a_caller_bug(apply: str) -> None:
    wrong = Stock(sku="TEE", on_hand=5)
    with pytest.raises(ValueError, match="a command for MUG was applied to the stock of TEE"):
        if apply == "reserve":
            reserve(wrong, reserve_cmd("ord-1"), NOW)
        elif apply == "release":
            release(wrong, release_cmd("ord-1"), NOW)
        else:
            adjust(wrong, AdjustStock(sku="MUG", delta=1), NOW)


def test_stock_survives_a_json_round_trip_for_the_table() -> None:
    held, _ = reserve(stock(10), reserve_cmd("ord-1", 3), NOW)
    assert Stock.model_validate_json(held.model_dump_json()) == held


def test_a_row_stored_with_holds_as_records_is_read_as_units() -> None:
    row = (
        '{"sku": "MUG", "on_hand": 5, "revision": 7, "reservations": '
        '{"ord-1": {"quantity": 2, "expires_at": "2026-01-01T00:00:00Z"}}}'
    )
    stored = Stock.model_validate_json(row)
    assert stored.reservations == {"ord-1": 2}
    assert (stored.reserved, stored.available) == (2, 3)


# --- commit -----------------------------------------------------------------------------


def test_committing_a_hold_takes_its_units_off_the_shelf() -> None:
    held, _ = reserve(stock(10), reserve_cmd("ord-1", 3), NOW)
    after = commit(held, CommitStock(order_id="ord-1", sku="MUG"))
    assert (after.on_hand, after.reserved, after.available) == (7, 0, 7)


def test_committing_twice_or_without_a_hold_changes_nothing() -> None:
    held, _ = reserve(stock(10), reserve_cmd("ord-1", 3), NOW)
    once = commit(held, CommitStock(order_id="ord-1", sku="MUG"))
    twice = commit(once, CommitStock(order_id="ord-1", sku="MUG"))
    assert twice == once


def applied(before: Stock, cmd: InventoryCommand) -> tuple[Stock, EventBase | None]:
    """A command that is no repeat, applied."""
    result = apply_command(before, cmd, NOW)
    assert result is not None, "applied as a repeat"
    return result


# --- redelivered adjustments ------------------------------------------------------------


def test_a_redelivered_delta_adjustment_is_applied_once() -> None:
    delivery = AdjustStock(sku="MUG", delta=5)
    once, answer = applied(stock(10), delivery)
    assert once.on_hand == 15 and isinstance(answer, StockAdjusted)
    assert apply_command(once, delivery, NOW) is None


def test_a_reservation_replayed_after_its_hold_was_committed_holds_nothing() -> None:
    request = reserve_cmd("ord-1", 3)
    held, _ = applied(stock(10), request)
    shipped, answer = applied(held, CommitStock(order_id="ord-1", sku="MUG"))
    assert apply_command(shipped, request, NOW) is None
    assert (shipped.on_hand, shipped.reserved, answer) == (7, 0, None)


def test_a_new_reservation_for_the_same_order_is_applied_after_a_release() -> None:
    held, _ = applied(stock(10), reserve_cmd("ord-1", 3))
    released, _ = applied(held, release_cmd("ord-1", 3))
    again, answer = applied(released, reserve_cmd("ord-1", 3))  # a payment retry
    assert isinstance(answer, StockReserved)
    assert again.reserved == 3


def test_every_applied_command_advances_the_revision() -> None:
    first, _ = applied(stock(10), reserve_cmd("ord-1"))
    second, _ = applied(first, reserve_cmd("ord-2"))
    assert (first.revision, second.revision) == (1, 2)


def test_a_stored_row_with_a_field_since_dropped_still_loads() -> None:
    row = stock(3).model_dump() | {"recent_adjustments": []}
    assert Stock.model_validate(row).on_hand == 3
