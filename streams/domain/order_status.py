"""Which status an order may move to from which, and why a refused move is refused.

The happy path is PENDING -> RESERVED -> PAID -> SHIPPED -> DELIVERED. The side exits: REJECTED
(out of stock), PAYMENT_FAILED (back to PENDING when the customer retries), SHIPPING_PROBLEM
(escalated; support may still ship it), CANCELLED (until the parcel leaves), EXPIRED (unpaid
too long). DELIVERED, REJECTED, CANCELLED and EXPIRED are terminal.
"""

from collections.abc import Mapping
from typing import Final

from streams.contract import OrderStatus

__all__ = ["TERMINAL", "OrderStatus", "TransitionRefused", "allowed_targets", "transition"]

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
