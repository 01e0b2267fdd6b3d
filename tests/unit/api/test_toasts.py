"""What the storefront says about each order event: timeline lines and toasts."""

from __future__ import annotations

from typing import Final

import pytest

from api.toasts import (
    RETRY_PAYMENT,
    TIMELINE,
    TOASTS,
    WITHOUT_TOAST,
    SummaryValue,
    Toast,
    money,
    timeline_text,
    toast_for,
)
from streams.contract import EVENT_TYPES
from streams.projections.history import NOT_RECORDED


def test_a_failed_payment_toasts_an_error_with_a_retry_action() -> None:
    toast = toast_for("PaymentFailed", {"code": "insufficient_funds", "attempt": 1})
    assert toast == Toast(
        "error",
        "Payment failed (the card has insufficient funds) — try another card.",
        RETRY_PAYMENT,
    )


def test_dispatch_toasts_the_carrier_and_tracking_number() -> None:
    toast = toast_for("ShipmentDispatched", {"carrier": "SimPost", "tracking_number": "SP1"})
    assert toast == Toast("info", "Your order is on its way with SimPost: tracking number SP1.")


def test_a_refund_toasts_its_amount() -> None:
    toast = toast_for("PaymentRefunded", {"amount_cents": 1250, "currency": "EUR"})
    assert toast == Toast("info", "Refunded 12.50 EUR.")


def test_a_rejected_order_toasts_why() -> None:
    toast = toast_for("OrderStatusChanged", {"to_status": "rejected", "reason": "MUG-01 sold out"})
    assert toast == Toast("error", "Your order could not be reserved: MUG-01 sold out.")


def test_the_sagas_routine_steps_do_not_toast() -> None:
    routine: list[tuple[str, dict[str, SummaryValue]]] = [
        ("StockReserved", {"sku": "MUG-01", "quantity": 1}),
        ("PaymentRequested", {"amount_cents": 100, "currency": "EUR", "attempt": 1}),
        ("OrderStatusChanged", {"to_status": "reserved", "reason": "every line reserved"}),
        ("SomethingNew", {}),
    ]
    for event_type, summary in routine:
        assert toast_for(event_type, summary) is None, event_type


def test_timeline_lines_speak_the_customers_words() -> None:
    assert timeline_text("OrderPlaced", {"total_cents": 7799, "currency": "EUR"}) == (
        "Order placed (77.99 EUR)"
    )
    assert timeline_text("PaymentFailed", {"code": "card_declined"}) == (
        "Payment failed: the card was declined"
    )
    assert timeline_text(
        "OrderStatusChanged", {"to_status": "payment_failed", "reason": "card declined"}
    ) == ("Status PAYMENT FAILED: card declined")
    assert timeline_text("ShipmentDelivered", {}) == "Delivered"


def test_an_unknown_event_type_is_shown_by_its_name() -> None:
    assert timeline_text("SomethingNew", {"x": 1}) == "SomethingNew"


def test_money_is_whole_units_and_cents_and_tolerates_a_missing_amount() -> None:
    assert money(5, "EUR") == "0.05 EUR"
    assert money(123456, "USD") == "1234.56 USD"
    assert money(None, "EUR") == ""
    assert money(True, "EUR") == ""


# The event types of the contract, by name, and those of them the storefront can be sent: the
# live streams carry only what the order history records (streams.projections.history, whose
# history_item leaves out the sku-keyed commands and the NOT_RECORDED hints).
CONTRACT: Final = {cls.model_fields["type"].default: cls for cls in EVENT_TYPES}
SHOWN: Final = {
    name
    for name, cls in CONTRACT.items()
    if cls.key_field == "order_id" and name not in NOT_RECORDED
}


def test_every_event_type_the_storefront_is_sent_has_a_timeline_line() -> None:
    unworded = sorted(SHOWN - set(TIMELINE))
    assert not unworded, (
        f"no timeline wording for {', '.join(unworded)}: add a line to TIMELINE in "
        "api/toasts.py (or leave the type out of the history: NOT_RECORDED in "
        "streams/projections/history.py)"
    )


def test_every_event_type_the_storefront_is_sent_toasts_or_is_named_as_toastless() -> None:
    undecided = sorted(SHOWN - set(TOASTS) - WITHOUT_TOAST)
    assert not undecided, (
        f"{', '.join(undecided)}: neither a toast in TOASTS nor named in WITHOUT_TOAST "
        "(api/toasts.py); decide whether the customer is interrupted for it"
    )


def test_no_event_type_both_toasts_and_is_named_as_toastless() -> None:
    assert not set(TOASTS) & WITHOUT_TOAST


@pytest.mark.parametrize(
    ("table", "names"),
    [("TIMELINE", set(TIMELINE)), ("TOASTS", set(TOASTS)), ("WITHOUT_TOAST", WITHOUT_TOAST)],
)
def test_the_wording_names_only_event_types_the_storefront_is_sent(
    table: str, names: set[str]
) -> None:
    unknown = sorted(names - set(CONTRACT))
    assert not unknown, (
        f"{table} in api/toasts.py names what is no event type of streams/contract.py "
        f"(renamed or removed?): {', '.join(unknown)}"
    )
    never_sent = sorted(names - SHOWN)
    assert not never_sent, (
        f"{table} in api/toasts.py names event types the order history does not record, "
        f"so the storefront is never sent them: {', '.join(never_sent)}"
    )


def test_an_address_change_says_where_the_parcel_now_goes() -> None:
    summary: dict[str, SummaryValue] = {
        "shipping_address.city": "Berlin",
        "shipping_address.postal_code": "10117",
        "shipping_address.country": "DE",
    }
    assert timeline_text("ShippingAddressChanged", summary) == (
        "Shipping address changed to 10117 Berlin, DE"
    )


def test_a_failed_refund_warns_that_it_is_delayed_without_the_providers_words() -> None:
    summary: dict[str, SummaryValue] = {
        "amount_cents": 1250,
        "currency": "EUR",
        "code": "refused",
        "retryable": False,
    }
    assert toast_for("RefundFailed", summary) == Toast(
        "warning", "Your refund of 12.50 EUR is delayed; we are looking into it."
    )
    assert timeline_text("RefundFailed", summary) == (
        "Refund of 12.50 EUR not made yet: we are looking into it"
    )
    assert toast_for("RefundRetryRequested", {"reason": "retried by an operator"}) is None
