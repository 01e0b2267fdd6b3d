from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

import pytest

from streams.contract import (
    AnyEvent,
    Channel,
    NotificationKind,
    OrderLine,
    OrderStatus,
    OrderStatusChanged,
    PaymentRefunded,
    decode_notification,
    encode_notification,
)
from streams.domain.notifications import (
    OrderSummary,
    Preferences,
    Recipient,
    addresses,
    invalid_email,
    invalid_phone,
    is_customer_facing,
    message_for,
    notification_id,
    notifications,
    only_verified,
)

WHEN = datetime(2025, 3, 1, 9, 30, tzinfo=UTC)
EVENT_ID = UUID("00000000-0000-4000-8000-000000000001")
LINES = (
    OrderLine(sku="MUG-01", quantity=2, unit_price_cents=1250),
    OrderLine(sku="TEE-M", quantity=1, unit_price_cents=2000),
)
ORDER = OrderSummary(
    order_id="ord-1", user_id="usr-1", lines=LINES, total_cents=4500, currency="EUR"
)
SHIPPED_ORDER = OrderSummary(
    order_id="ord-1",
    user_id="usr-1",
    lines=LINES,
    total_cents=4500,
    currency="EUR",
    tracking_number="SP123",
)
ADA = Recipient(user_id="usr-1", name="Ada", account_email="ada@example.com")
URL = "http://shop.example/orders/ord-1"


def changed(to: OrderStatus, reason: str = "because") -> OrderStatusChanged:
    return OrderStatusChanged(
        order_id="ord-1",
        from_status=None,
        to_status=to,
        reason=reason,
        event_id=EVENT_ID,
        occurred_at=WHEN,
    )


def refunded(amount: int = 4500) -> PaymentRefunded:
    return PaymentRefunded(
        order_id="ord-1",
        refund_id="re-1",
        payment_id="pay-1",
        amount_cents=amount,
        currency="EUR",
        event_id=EVENT_ID,
    )


EXPECTED_KINDS = {
    OrderStatus.PAID: NotificationKind.ORDER_CONFIRMED,
    OrderStatus.PAYMENT_FAILED: NotificationKind.PAYMENT_FAILED,
    OrderStatus.SHIPPED: NotificationKind.SHIPPED,
    OrderStatus.DELIVERED: NotificationKind.DELIVERED,
    OrderStatus.CANCELLED: NotificationKind.CANCELLED,
    OrderStatus.SHIPPING_PROBLEM: NotificationKind.SHIPPING_PROBLEM,
    OrderStatus.REJECTED: NotificationKind.REJECTED,
    OrderStatus.EXPIRED: NotificationKind.EXPIRED,
}


@pytest.mark.parametrize("status", list(OrderStatus))
def test_every_status_is_either_news_of_its_kind_or_internal(status: OrderStatus) -> None:
    event = changed(status)
    message = message_for(event, SHIPPED_ORDER)
    if status in EXPECTED_KINDS:
        assert is_customer_facing(event)
        assert message is not None
        assert message.kind is EXPECTED_KINDS[status]
        assert message.status is status
        assert "ord-1" in message.subject
    else:
        assert not is_customer_facing(event)
        assert message is None


def test_every_event_other_than_status_changes_and_refunds_is_no_news(
    any_event: AnyEvent,
) -> None:
    if isinstance(any_event, OrderStatusChanged | PaymentRefunded):
        return
    assert not is_customer_facing(any_event)
    assert message_for(any_event, ORDER) is None


def test_a_confirmation_lists_the_lines_and_total_and_links_the_order() -> None:
    (email, push) = notifications(changed(OrderStatus.PAID), ORDER, ADA, URL)
    assert email.kind is NotificationKind.ORDER_CONFIRMED
    assert email.lines == LINES
    assert (email.total_cents, email.currency) == (4500, "EUR")
    assert email.link == URL
    assert "45.00 EUR" in email.text
    assert push.lines == LINES


def test_a_failed_payment_asks_the_customer_to_try_again() -> None:
    message = message_for(changed(OrderStatus.PAYMENT_FAILED), ORDER)
    assert message is not None
    assert "try again" in message.subject
    assert not message.with_lines


def test_a_shipment_tells_the_tracking_number() -> None:
    (email, _) = notifications(changed(OrderStatus.SHIPPED), SHIPPED_ORDER, ADA, URL)
    assert email.tracking_number == "SP123"
    assert "SP123" in email.text
    assert email.lines == ()


def test_only_a_shipment_carries_the_tracking_number() -> None:
    (email, _) = notifications(changed(OrderStatus.DELIVERED), SHIPPED_ORDER, ADA, URL)
    assert email.tracking_number is None


def test_a_cancellation_says_why_and_lists_the_lines() -> None:
    (email, _) = notifications(changed(OrderStatus.CANCELLED, "changed my mind"), ORDER, ADA, URL)
    assert "changed my mind" in email.text
    assert email.lines == LINES


def test_a_shipping_problem_says_what_went_wrong() -> None:
    message = message_for(changed(OrderStatus.SHIPPING_PROBLEM, "address unknown"), ORDER)
    assert message is not None
    assert "address unknown" in message.text


def test_a_refund_tells_the_amount_refunded() -> None:
    (email, _) = notifications(refunded(1250), ORDER, ADA, URL)
    assert email.kind is NotificationKind.REFUNDED
    assert email.refunded_cents == 1250
    assert "12.50 EUR" in email.subject


def test_by_default_a_customer_gets_email_and_push_but_no_sms() -> None:
    assert addresses(ADA) == {Channel.EMAIL: "ada@example.com", Channel.PUSH: "usr-1"}


def test_sms_goes_to_an_opted_in_customer_with_a_phone_number() -> None:
    prefs = Preferences(sms=True, phone="+4915112345678")
    recipient = Recipient("usr-1", "Ada", "ada@example.com", prefs)
    assert addresses(recipient)[Channel.SMS] == "+4915112345678"


def test_sms_without_a_phone_number_goes_nowhere() -> None:
    recipient = Recipient("usr-1", "Ada", "ada@example.com", Preferences(sms=True))
    assert Channel.SMS not in addresses(recipient)


def test_a_notification_address_overrides_the_accounts_email() -> None:
    prefs = Preferences(email_address="orders@ada.example")
    recipient = Recipient("usr-1", "Ada", "ada@example.com", prefs)
    assert addresses(recipient)[Channel.EMAIL] == "orders@ada.example"


def test_unverified_email_and_phone_are_left_out_and_push_stays() -> None:
    chosen = Preferences(email=True, sms=True, push=True, phone="+4915112345678")
    reachable = only_verified(chosen, email_verified=False, phone_verified=False)
    recipient = Recipient("usr-1", "Ada", "ada@example.com", reachable)
    assert addresses(recipient) == {Channel.PUSH: "usr-1"}


def test_a_verified_phone_gets_sms_while_an_unverified_email_gets_nothing() -> None:
    chosen = Preferences(email=True, sms=True, phone="+4915112345678")
    reachable = only_verified(chosen, email_verified=False, phone_verified=True)
    recipient = Recipient("usr-1", "Ada", "ada@example.com", reachable)
    assert addresses(recipient) == {Channel.SMS: "+4915112345678", Channel.PUSH: "usr-1"}


def test_verification_never_turns_on_a_channel_the_customer_turned_off() -> None:
    chosen = Preferences(email=False, sms=False, phone="+4915112345678")
    assert only_verified(chosen, email_verified=True, phone_verified=True) == chosen


def test_opting_out_of_every_channel_means_no_notifications() -> None:
    recipient = Recipient(
        "usr-1", "Ada", "ada@example.com", Preferences(email=False, sms=False, push=False)
    )
    assert notifications(changed(OrderStatus.PAID), ORDER, recipient, URL) == ()


def test_one_notification_per_channel_each_with_its_own_id() -> None:
    prefs = Preferences(sms=True, phone="+14155550100")
    recipient = Recipient("usr-1", "Ada", "ada@example.com", prefs)
    sent = notifications(changed(OrderStatus.DELIVERED), SHIPPED_ORDER, recipient, URL)
    assert [n.channel for n in sent] == [Channel.EMAIL, Channel.SMS, Channel.PUSH]
    assert len({n.notification_id for n in sent}) == 3
    assert {n.event_id for n in sent} == {EVENT_ID}


def test_a_redelivered_event_yields_the_same_notification_ids() -> None:
    first = notifications(changed(OrderStatus.PAID), ORDER, ADA, URL)
    again = notifications(changed(OrderStatus.PAID), ORDER, ADA, URL)
    assert [n.notification_id for n in first] == [n.notification_id for n in again]
    assert notification_id(EVENT_ID, Channel.EMAIL) == first[0].notification_id


@pytest.mark.parametrize("phone", ["+4915112345678", "+14155550100", "+12"])
def test_e164_numbers_are_accepted(phone: str) -> None:
    assert invalid_phone(phone) is None


@pytest.mark.parametrize(
    "phone", ["015112345678", "+0151123", "+1 415 555 0100", "+1234567890123456", "+", ""]
)
def test_numbers_not_in_e164_are_refused(phone: str) -> None:
    assert invalid_phone(phone) is not None
    with pytest.raises(ValueError, match=r"E\.164"):
        Preferences(phone=phone)


@pytest.mark.parametrize("email", ["ada", "ada@example", "a da@example.com", "@example.com"])
def test_malformed_notification_emails_are_refused(email: str) -> None:
    assert invalid_email(email) is not None
    with pytest.raises(ValueError, match="email"):
        Preferences(email_address=email)


def test_a_notification_survives_its_codec() -> None:
    for sent in notifications(changed(OrderStatus.PAID), ORDER, ADA, URL):
        assert decode_notification(encode_notification(sent)) == sent
