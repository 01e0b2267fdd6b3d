"""Stock of one SKU and the rules that keep it from being oversold.

The inventory agent owns one Stock per SKU in a table keyed by sku, so every change to a SKU is
made by one writer, in order; each function here is that change as a pure step.

- ``on_hand`` counts the units on the shelf, reserved ones included; ``available`` is what is
  left to promise. A reservation is check-and-decrement of ``available`` in one step, and the
  model refuses any state where reservations exceed ``on_hand``.
- Reservations are per order: a repeated ReserveStock for an order that already holds one is
  answered with that reservation again and changes nothing; releasing what is not held answers
  StockReleased with quantity 0.
- An adjustment may not take away units promised to orders: it is refused when ``on_hand``
  would fall below what is reserved. Cancel those orders first.
- A command delivered again (same event_id: a replay after a crash, or an upstream agent
  deciding again) is not applied twice: ``apply_command`` remembers the last COMMAND_MEMORY
  command ids per SKU and answers a repeat with nothing. Without it, a ReserveStock replayed
  after its hold was committed would hold the units a second time.
- A hold ends in one of two ways: released (the order will not be paid or shipped), or
  committed (its parcel was dispatched: the units leave the shelf, ``on_hand`` goes down).
- The order saga owns expiry (it knows which holds were paid for) and releases expired holds
  itself; a hold here is only the units an order has, not its deadline.
- The row is read and written on every batch that touches its SKU, and a busy SKU holds many
  orders' units at once: so a hold is one number, not a record with a deadline and its own
  validation. (Rows written as ``{"quantity": q, "expires_at": ...}`` are still read.)
"""

from collections.abc import Mapping
from datetime import datetime
from typing import Final, Self, TypeAlias, TypeVar
from uuid import UUID

from pydantic import (
    ConfigDict,
    Field,
    NonNegativeInt,
    PositiveInt,
    field_validator,
    model_validator,
)

from streams.contract import (
    AdjustStock,
    CommitStock,
    EventBase,
    Id,
    Record,
    ReleaseStock,
    ReserveStock,
    StockAdjusted,
    StockRejected,
    StockReleased,
    StockReserved,
    derive,
)

# Command ids remembered per SKU for dedupe. Replays come from the last few seconds (the
# consumer's commit interval), so this covers them unless one SKU gets more commands than this
# in that time; it is also what every stock row carries, so it is kept modest.
COMMAND_MEMORY: Final = 128
InventoryCommand: TypeAlias = ReserveStock | ReleaseStock | CommitStock | AdjustStock


class AdjustmentRefused(ValueError):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Stock(Record):
    # A stored row, read back by newer code: a field since dropped is ignored, not refused.
    model_config = ConfigDict(frozen=True, extra="ignore")

    sku: Id
    on_hand: NonNegativeInt = 0
    reservations: Mapping[str, PositiveInt] = Field(default_factory=dict)  # order_id -> units
    recent_commands: tuple[UUID, ...] = ()
    # Commands applied (counted by apply_command): read models keep the newest row.
    revision: NonNegativeInt = 0

    @field_validator("reservations", mode="before")
    @classmethod
    def _holds_as_units(cls, value: object) -> object:
        # Rows stored before holds were plain units: {"quantity": q, "expires_at": ...}.
        if isinstance(value, Mapping) and value and isinstance(next(iter(value.values())), Mapping):
            return {order: held["quantity"] for order, held in value.items()}
        return value

    @property
    def reserved(self) -> int:
        return sum(self.reservations.values())

    @property
    def available(self) -> int:
        return self.on_hand - self.reserved

    @model_validator(mode="after")
    def _never_oversold(self) -> Self:
        if self.reserved > self.on_hand:
            raise ValueError(f"{self.sku}: {self.reserved} reserved but only {self.on_hand} held")
        return self


def apply_command(
    stock: Stock, cmd: InventoryCommand, now: datetime
) -> tuple[Stock, EventBase | None] | None:
    """Apply a command once: the stock after it and the answer, if the command has one; None
    for a repeat, which changes nothing and needs no answer (the first answer was published
    before the row recording the command was stored). May raise AdjustmentRefused (then
    nothing is remembered: the same command may be sent again)."""
    if cmd.event_id in stock.recent_commands:
        return None
    answer: EventBase | None
    match cmd:
        case ReserveStock():
            stock, answer = reserve(stock, cmd, now)
        case ReleaseStock():
            stock, answer = release(stock, cmd, now)
        case CommitStock():
            stock, answer = commit(stock, cmd), None
        case AdjustStock():
            stock, answer = adjust(stock, cmd, now)
    seen = (*stock.recent_commands, cmd.event_id)[-COMMAND_MEMORY:]
    return stock.model_copy(
        update={"recent_commands": seen, "revision": stock.revision + 1}
    ), answer


def reserve(
    stock: Stock, cmd: ReserveStock, now: datetime
) -> tuple[Stock, StockReserved | StockRejected]:
    _same_sku(stock, cmd.sku)
    held = stock.reservations.get(cmd.order_id)
    if held is None:
        if cmd.quantity > stock.available:
            rejected = StockRejected(
                order_id=cmd.order_id,
                sku=cmd.sku,
                requested=cmd.quantity,
                available=stock.available,
            )
            return stock, _answer(rejected, cmd, now)
        held = cmd.quantity
        stock = _with_reservations(stock, {**stock.reservations, cmd.order_id: held})
    reserved = StockReserved(
        order_id=cmd.order_id, sku=cmd.sku, quantity=held, expires_at=cmd.expires_at
    )
    return stock, _answer(reserved, cmd, now)


def release(stock: Stock, cmd: ReleaseStock, now: datetime) -> tuple[Stock, StockReleased]:
    _same_sku(stock, cmd.sku)
    held = stock.reservations.get(cmd.order_id)
    remaining = {order: r for order, r in stock.reservations.items() if order != cmd.order_id}
    released = StockReleased(order_id=cmd.order_id, sku=cmd.sku, quantity=held or 0)
    return _with_reservations(stock, remaining), _answer(released, cmd, now)


def adjust(stock: Stock, cmd: AdjustStock, now: datetime) -> tuple[Stock, StockAdjusted]:
    """A stocktake (``set_to``) or a delivery or loss (``delta``); may raise AdjustmentRefused."""
    _same_sku(stock, cmd.sku)
    on_hand = cmd.set_to if cmd.set_to is not None else stock.on_hand + (cmd.delta or 0)
    if on_hand < stock.reserved:
        raise AdjustmentRefused(
            f"{stock.sku}: on_hand would become {on_hand}, below the {stock.reserved} units "
            "reserved for orders; cancel those orders first"
        )
    adjusted = stock.model_copy(update={"on_hand": on_hand})
    return adjusted, _answer(StockAdjusted(sku=stock.sku, on_hand=on_hand), cmd, now)


def commit(stock: Stock, cmd: CommitStock) -> Stock:
    """The order's hold leaves with its parcel; committing what is not held changes nothing.
    Nobody waits for an answer: the new level is in the stock row, whose changelog the stock
    read model follows, so no StockAdjusted repeats it."""
    _same_sku(stock, cmd.sku)
    held = stock.reservations.get(cmd.order_id)
    if held is not None:
        remaining = {order: r for order, r in stock.reservations.items() if order != cmd.order_id}
        stock = stock.model_copy(
            update={"on_hand": stock.on_hand - held, "reservations": remaining}
        )
    return stock


def _same_sku(stock: Stock, sku: str) -> None:
    # A command routed to the wrong stock is a bug in the caller, never a business outcome.
    if stock.sku != sku:
        raise ValueError(f"a command for {sku} was applied to the stock of {stock.sku}")


def _with_reservations(stock: Stock, reservations: Mapping[str, int]) -> Stock:
    return stock.model_copy(update={"reservations": reservations})


E = TypeVar("E", bound=EventBase)


def _answer(answer: E, cmd: EventBase, now: datetime) -> E:
    return derive(answer, cause_id=cmd.event_id, tag=answer.type, trace_id=cmd.trace_id, now=now)
