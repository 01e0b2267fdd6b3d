"""Which status an order may move to from which, and why a refused move is refused.

The happy path is PENDING -> RESERVED -> PAID -> SHIPPED -> DELIVERED. The side exits: REJECTED
(out of stock), PAYMENT_FAILED (back to PENDING when the customer retries), SHIPPING_PROBLEM
(escalated; support may still ship it), CANCELLED (until the parcel leaves), EXPIRED (unpaid
too long). DELIVERED, REJECTED, CANCELLED and EXPIRED are terminal.

The shipping address may change while no shipment has been requested: in PENDING, RESERVED and
PAYMENT_FAILED, and in PAID only before the ShipmentRequested (the saga sends it in the same step
that records the payment, so a PAID order the gateway sees has one). Once the request has left,
the shipping agent may already have handed the parcel to a carrier with the old address, and
there is no way to take a request back: the change is refused, never half-applied.
"""

from collections.abc import Mapping
from typing import Final

from streams.contract import OrderStatus

__all__ = [
    "ADDRESS_CHANGEABLE",
    "TERMINAL",
    "OrderStatus",
    "TransitionRefused",
    "address_change_refusal",
    "allowed_targets",
    "transition",
]

_S = OrderStatus

_ALLOWED: Final[Mapping[OrderStatus, frozenset[OrderStatus]]] = {
    _S.PENDING: frozenset({_S.RESERVED, _S.REJECTED, _S.CANCELLED, _S.EXPIRED}),
    _S.RESERVED: frozenset({_S.PAID, _S.PAYMENT_FAILED, _S.CANCELLED, _S.EXPIRED}),
    _S.PAYMENT_FAILED: frozenset({_S.PENDING, _S.CANCELLED, _S.EXPIRED}),
    _S.PAID: frozenset({_S.SHIPPED, _S.SHIPPING_PROBLEM, _S.CANCELLED}),
    _S.SHIPPING_PROBLEM: frozenset({_S.SHIPPED, _S.CANCELLED}),
    _S.SHIPPED: frozenset({_S.DELIVERED}),
    _S.DELIVERED: frozenset(),
    _S.REJECTED: frozenset(),
    _S.CANCELLED: frozenset(),
    _S.EXPIRED: frozenset(),
}

TERMINAL: Final = frozenset(status for status, targets in _ALLOWED.items() if not targets)

# Where the shipping address may still change, provided no shipment was requested yet.
ADDRESS_CHANGEABLE: Final = frozenset({_S.PENDING, _S.RESERVED, _S.PAYMENT_FAILED, _S.PAID})

# Refusals a customer or an operator meets often enough to deserve their own words.
_WHY: Final[Mapping[tuple[OrderStatus, OrderStatus], str]] = {
    (_S.SHIPPED, _S.CANCELLED): "the parcel has left the warehouse; ask for a return instead",
    (_S.PENDING, _S.PAID): "no payment is taken before every line is reserved",
}


class TransitionRefused(Exception):
    """An order was asked to move where its status machine does not allow."""

    def __init__(self, current: OrderStatus, target: OrderStatus, reason: str) -> None:
        super().__init__(reason)
        self.current = current
        self.target = target
        self.reason = reason


def allowed_targets(current: OrderStatus) -> frozenset[OrderStatus]:
    return _ALLOWED[current]


def transition(current: OrderStatus, target: OrderStatus) -> OrderStatus:
    """Return ``target`` if ``current`` may move there; raise TransitionRefused otherwise."""
    if target in _ALLOWED[current]:
        return target
    raise TransitionRefused(current, target, _refusal(current, target))


def _refusal(current: OrderStatus, target: OrderStatus) -> str:
    if (current, target) in _WHY:
        why = _WHY[current, target]
    elif current in TERMINAL:
        why = f"{current} is final"
    elif current == target:
        why = f"the order is already {current}"
    else:
        why = f"from {current} it may only go to {', '.join(sorted(_ALLOWED[current]))}"
    return f"cannot go from {current} to {target}: {why}"


def address_change_refusal(current: OrderStatus, *, shipment_requested: bool) -> str | None:
    """Why the shipping address can no longer change, or ``None`` if it still can."""
    if current in {_S.SHIPPED, _S.DELIVERED}:
        return "the parcel has left the warehouse; its address can no longer change"
    if current in TERMINAL:
        return f"the order is {current}; its address can no longer change"
    if shipment_requested or current not in ADDRESS_CHANGEABLE:
        return (
            f"the order is {current} and its shipment was already requested to the address it "
            "has; cancel the order and place it again instead"
        )
    return None
