"""What the storefront tells a customer about an order event: a timeline line and, for the
events worth interrupting them for, a toast. Pure: the live stream and its tests call it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, Literal, TypeAlias

SummaryValue: TypeAlias = str | int | bool
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


def timeline_text(event_type: str, summary: Mapping[str, SummaryValue]) -> str:
    """One line of the order's timeline, in the customer's words."""
    get = summary.get
    match event_type:
        case "OrderPlaced":
            return f"Order placed ({money(get('total_cents'), get('currency'))})"
        case "StockReserved":
            return f"Reserved {get('quantity')} x {get('sku')}"
        case "StockRejected":
            return f"{get('sku')}: {get('requested')} wanted, {get('available')} left"
        case "StockReleased":
            return f"Released {get('quantity')} x {get('sku')}"
        case "PaymentRequested":
            return f"Payment of {money(get('amount_cents'), get('currency'))} requested"
        case "PaymentSucceeded":
            return f"Paid {money(get('amount_cents'), get('currency'))}"
        case "PaymentFailed":
            return f"Payment failed: {_FAILURES.get(str(get('code')), get('code'))}"
        case "PaymentRetryRequested":
            return "Payment retried with another card"
        case "RefundRequested":
            return f"Refund of {money(get('amount_cents'), get('currency'))} requested"
        case "PaymentRefunded":
            return f"Refunded {money(get('amount_cents'), get('currency'))}"
        case "ShipmentRequested":
            return f"Handed to the carrier (attempt {get('attempt')})"
        case "ShipmentDispatched":
            return f"Shipped with {get('carrier')}, tracking number {get('tracking_number')}"
        case "ShippingProblem":
            return f"Shipping problem: {get('reason')}"
        case "ShipmentDelivered":
            return "Delivered"
        case "OrderCancelled":
            return f"Cancellation asked: {get('reason') or 'no reason given'}"
        case "OrderStatusChanged":
            status = str(get("to_status", "")).replace("_", " ").upper()
            reason = get("reason")
            return f"Status {status}" + (f": {reason}" if reason else "")
        case _:
            return event_type


def toast_for(event_type: str, summary: Mapping[str, SummaryValue]) -> Toast | None:
    """The notification an event deserves, or None for the saga's routine steps."""
    get = summary.get
    match event_type:
        case "PaymentFailed":
            why = _FAILURES.get(str(get("code")), "the payment was refused")
            return Toast("error", f"Payment failed ({why}) — try another card.", RETRY_PAYMENT)
        case "PaymentSucceeded":
            return Toast("success", "Payment received — your order is paid.")
        case "ShipmentDispatched":
            return Toast(
                "info",
                f"Your order is on its way with {get('carrier')}: "
                f"tracking number {get('tracking_number')}.",
            )
        case "ShipmentDelivered":
            return Toast("success", "Your order has been delivered.")
        case "ShippingProblem":
            return Toast("warning", f"Shipping problem: {get('reason')}.")
        case "PaymentRefunded":
            return Toast("info", f"Refunded {money(get('amount_cents'), get('currency'))}.")
        case "OrderStatusChanged":
            return _status_toast(str(get("to_status")), get("reason"))
        case _:
            return None


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
