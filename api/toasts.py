"""What the storefront tells a customer about an order event: a timeline line and, for the
events worth interrupting them for, a toast. Pure: the live stream and its tests call it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final, Literal, TypeAlias

SummaryValue: TypeAlias = str | int | bool
# An event's timeline summary (``streams.projections.history.SUMMARY_FIELDS``).
Summary: TypeAlias = Mapping[str, SummaryValue]
Level: TypeAlias = Literal["info", "success", "warning", "error"]

# A toast's action the page knows how to offer (a button), beside its text.
RETRY_PAYMENT: Final = "retry-payment"

_FAILURES: Final = {
    "card_declined": "the card was declined",
    "insufficient_funds": "the card has insufficient funds",
    "processing_error": "the card could not be processed",
}


@dataclass(frozen=True, slots=True)
class Toast:
    level: Level
    text: str
    action: str | None = None


def money(cents: SummaryValue | None, currency: SummaryValue | None) -> str:
    if not isinstance(cents, int) or isinstance(cents, bool):
        return ""
    return f"{cents // 100}.{cents % 100:02d} {currency or ''}".rstrip()


def timeline_text(event_type: str, summary: Summary) -> str:
    """One line of the order's timeline, in the customer's words."""
    words = TIMELINE.get(event_type)
    return event_type if words is None else words(summary)


def toast_for(event_type: str, summary: Summary) -> Toast | None:
    """The notification an event deserves, or None for the saga's routine steps."""
    toast = TOASTS.get(event_type)
    return None if toast is None else toast(summary)


def _address(summary: Summary) -> str:
    get = summary.get
    place = " ".join(
        str(part)
        for part in (get("shipping_address.postal_code"), get("shipping_address.city"))
        if part
    )
    country = get("shipping_address.country")
    return ", ".join(str(part) for part in (place, country) if part)


def _status_line(summary: Summary) -> str:
    status = str(summary.get("to_status", "")).replace("_", " ").upper()
    reason = summary.get("reason")
    return f"Status {status}" + (f": {reason}" if reason else "")


def _payment_failed_toast(summary: Summary) -> Toast:
    why = _FAILURES.get(str(summary.get("code")), "the payment was refused")
    return Toast("error", f"Payment failed ({why}) — try another card.", RETRY_PAYMENT)


def _dispatched_toast(summary: Summary) -> Toast:
    return Toast(
        "info",
        f"Your order is on its way with {summary.get('carrier')}: "
        f"tracking number {summary.get('tracking_number')}.",
    )


def _status_toast(status: str, reason: SummaryValue | None) -> Toast | None:
    match status:
        case "rejected":
            return Toast("error", f"Your order could not be reserved: {reason}.")
        case "cancelled":
            return Toast("info", "Your order is cancelled.")
        case "expired":
            return Toast("warning", "Your order expired unpaid; its items were released.")
        case _:
            return None


# Each event type the storefront can be sent (those the order history records), by its contract
# name: its timeline line. A type missing here is shown by its bare name.
TIMELINE: Final[Mapping[str, Callable[[Summary], str]]] = {
    "OrderPlaced": lambda s: f"Order placed ({money(s.get('total_cents'), s.get('currency'))})",
    "OrderCancelled": lambda s: f"Cancellation asked: {s.get('reason') or 'no reason given'}",
    "PaymentRetryRequested": lambda s: "Payment retried with another card",
    "ShippingAddressChanged": lambda s: f"Shipping address changed to {_address(s)}",
    "OrderStatusChanged": _status_line,
    "StockReserved": lambda s: f"Reserved {s.get('quantity')} x {s.get('sku')}",
    "StockRejected": lambda s: (
        f"{s.get('sku')}: {s.get('requested')} wanted, {s.get('available')} left"
    ),
    "StockReleased": lambda s: f"Released {s.get('quantity')} x {s.get('sku')}",
    "PaymentRequested": lambda s: (
        f"Payment of {money(s.get('amount_cents'), s.get('currency'))} requested"
    ),
    "PaymentSucceeded": lambda s: f"Paid {money(s.get('amount_cents'), s.get('currency'))}",
    "PaymentFailed": lambda s: (
        f"Payment failed: {_FAILURES.get(str(s.get('code')), s.get('code'))}"
    ),
    "RefundRequested": lambda s: (
        f"Refund of {money(s.get('amount_cents'), s.get('currency'))} requested"
    ),
    "PaymentRefunded": lambda s: f"Refunded {money(s.get('amount_cents'), s.get('currency'))}",
    "RefundFailed": lambda s: (
        f"Refund of {money(s.get('amount_cents'), s.get('currency'))} not made yet: "
        "we are looking into it"
    ),
    "RefundRetryRequested": lambda s: "Refund asked for again",
    "ShipmentRequested": lambda s: f"Handed to the carrier (attempt {s.get('attempt')})",
    "ShipmentDispatched": lambda s: (
        f"Shipped with {s.get('carrier')}, tracking number {s.get('tracking_number')}"
    ),
    "ShippingProblem": lambda s: f"Shipping problem: {s.get('reason')}",
    "ShipmentDelivered": lambda s: "Delivered",
}

# The events worth interrupting the customer for: their toast (None when this one is not).
TOASTS: Final[Mapping[str, Callable[[Summary], Toast | None]]] = {
    "PaymentFailed": _payment_failed_toast,
    "PaymentSucceeded": lambda s: Toast("success", "Payment received — your order is paid."),
    "ShipmentDispatched": _dispatched_toast,
    "ShipmentDelivered": lambda s: Toast("success", "Your order has been delivered."),
    "ShippingProblem": lambda s: Toast("warning", f"Shipping problem: {s.get('reason')}."),
    "PaymentRefunded": lambda s: Toast(
        "info", f"Refunded {money(s.get('amount_cents'), s.get('currency'))}."
    ),
    "RefundFailed": lambda s: Toast(
        "warning",
        f"Your refund of {money(s.get('amount_cents'), s.get('currency'))} is delayed; "
        "we are looking into it.",
    ),
    "OrderStatusChanged": lambda s: _status_toast(str(s.get("to_status")), s.get("reason")),
}

# On the timeline, never a toast: the saga's routine steps, and the customer's own requests.
# A rejection, cancellation or expiry toasts once, as its OrderStatusChanged.
WITHOUT_TOAST: Final = frozenset(
    {
        "OrderPlaced",
        "OrderCancelled",
        "PaymentRetryRequested",
        "RefundRetryRequested",
        "ShippingAddressChanged",
        "StockReserved",
        "StockRejected",
        "StockReleased",
        "PaymentRequested",
        "RefundRequested",
        "ShipmentRequested",
    }
)
