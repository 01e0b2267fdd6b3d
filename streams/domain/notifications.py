"""Which order events the customer hears of, what they are told, and on which channels.

The saga's verdicts are what customers hear of: an ``OrderStatusChanged`` into a status they
care about, and a ``PaymentRefunded`` (money back is news even when the status does not move).
Raw carrier or payment answers are not: the saga may still refuse them, and a shipment retried
after a problem is no news until the saga gives up.

One event yields at most one message; the message goes out once per channel the customer has
opted into and can be reached on (an e-mail address, a phone number; push needs neither). Each
copy's id is derived from the event id and the channel, so a redelivered event produces the
same ids and delivery dedupes them.

An e-mail address or phone number is reached only once the customer has proved it is theirs
(a code sent there came back, see the gateway's ``api/services/address_verification.py``):
otherwise the shop would mail or text whoever a customer names. Whoever looks the recipient up
knows which addresses are verified and hands ``only_verified`` preferences to ``addresses``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Final
from uuid import UUID, uuid5

from streams.contract import (
    AnyEvent,
    Channel,
    CustomerNotification,
    NotificationKind,
    OrderLine,
    OrderStatus,
    OrderStatusChanged,
    PaymentRefunded,
)

# ITU-T E.164: a plus, a country code that does not start with 0, at most 15 digits in all.
E164: Final = re.compile(r"^\+[1-9][0-9]{1,14}$")
# Loose on purpose (as the gateway's account e-mail): one @, no spaces, a dot in the domain.
EMAIL: Final = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

# What each status means to the customer; the statuses not listed here are internal steps.
_STATUS_KINDS: Final[dict[OrderStatus, NotificationKind]] = {
    OrderStatus.PAID: NotificationKind.ORDER_CONFIRMED,
    OrderStatus.PAYMENT_FAILED: NotificationKind.PAYMENT_FAILED,
    OrderStatus.SHIPPED: NotificationKind.SHIPPED,
    OrderStatus.DELIVERED: NotificationKind.DELIVERED,
    OrderStatus.CANCELLED: NotificationKind.CANCELLED,
    OrderStatus.SHIPPING_PROBLEM: NotificationKind.SHIPPING_PROBLEM,
    OrderStatus.REJECTED: NotificationKind.REJECTED,
    OrderStatus.EXPIRED: NotificationKind.EXPIRED,
}
# The kinds whose message lists the order's lines and total (a receipt, in effect).
_WITH_LINES: Final = frozenset({NotificationKind.ORDER_CONFIRMED, NotificationKind.CANCELLED})


def invalid_phone(phone: str) -> str | None:
    """Why ``phone`` is not a number SMS can go to, or None when it is."""
    if E164.fullmatch(phone) is None:
        return (
            "phone must be in E.164 form: a plus, the country code and the number, "
            "e.g. +4915112345678"
        )
    return None


def invalid_email(email: str) -> str | None:
    if len(email) > 254 or EMAIL.fullmatch(email) is None:
        return "email must be an address like ada@example.com"
    return None


@dataclass(frozen=True, slots=True)
class Preferences:
    """Opt-in per channel. A customer who never chose gets e-mail and push, not SMS (which
    needs a phone number and costs money per message)."""

    email: bool = True
    sms: bool = False
    push: bool = True
    phone: str | None = None  # E.164
    email_address: str | None = None  # None: the account's e-mail

    def __post_init__(self) -> None:
        if self.phone is not None and (reason := invalid_phone(self.phone)):
            raise ValueError(reason)
        if self.email_address is not None and (reason := invalid_email(self.email_address)):
            raise ValueError(reason)


def only_verified(
    preferences: Preferences, *, email_verified: bool, phone_verified: bool
) -> Preferences:
    """``preferences`` with the channels whose address is not verified turned off (push needs
    no address, so it stays as chosen)."""
    return replace(
        preferences,
        email=preferences.email and email_verified,
        sms=preferences.sms and phone_verified,
    )


@dataclass(frozen=True, slots=True)
class Recipient:
    user_id: str
    name: str
    account_email: str
    preferences: Preferences = Preferences()


@dataclass(frozen=True, slots=True)
class OrderSummary:
    """What the messages say about the order, from the saga's row of it."""

    order_id: str
    user_id: str
    lines: tuple[OrderLine, ...]
    total_cents: int
    currency: str
    tracking_number: str | None = None


@dataclass(frozen=True, slots=True)
class Message:
    kind: NotificationKind
    status: OrderStatus
    subject: str
    text: str
    with_lines: bool
    refunded_cents: int | None = None


def is_customer_facing(event: AnyEvent) -> bool:
    """Whether ``event`` can lead to a notification (checked before any look-up is made)."""
    match event:
        case OrderStatusChanged():
            return event.to_status in _STATUS_KINDS
        case PaymentRefunded():
            return True
        case _:
            return False


def money(cents: int, currency: str) -> str:
    return f"{cents // 100}.{cents % 100:02d} {currency}"


def message_for(event: AnyEvent, order: OrderSummary) -> Message | None:
    """What the customer is told of ``event``, or None when it is not news to them."""
    ref = order.order_id
    total = money(order.total_cents, order.currency)
    match event:
        case PaymentRefunded():
            amount = money(event.amount_cents, event.currency)
            return Message(
                NotificationKind.REFUNDED,
                OrderStatus.CANCELLED,
                f"Refund of {amount} for order {ref}",
                f"We have refunded {amount} for order {ref} to your card. "
                "It can take a few days to show on your statement.",
                with_lines=False,
                refunded_cents=event.amount_cents,
            )
        case OrderStatusChanged() if (kind := _STATUS_KINDS.get(event.to_status)) is not None:
            subject, text = _words(kind, order, total, event.reason)
            return Message(kind, event.to_status, subject, text, with_lines=kind in _WITH_LINES)
        case _:
            return None


def _words(kind: NotificationKind, order: OrderSummary, total: str, reason: str) -> tuple[str, str]:
    ref = order.order_id
    match kind:
        case NotificationKind.ORDER_CONFIRMED:
            return (
                f"Order {ref} confirmed",
                f"Thank you! We received your payment of {total} for order {ref} and are "
                "packing your parcel.",
            )
        case NotificationKind.PAYMENT_FAILED:
            return (
                f"Payment for order {ref} failed - please try again",
                f"Your payment of {total} for order {ref} did not go through. Your items are "
                "held for a little while: try again with another card from your order page.",
            )
        case NotificationKind.SHIPPED:
            return (
                f"Order {ref} is on its way",
                f"Order {ref} has been dispatched, tracking number {order.tracking_number}.",
            )
        case NotificationKind.DELIVERED:
            return f"Order {ref} delivered", f"Order {ref} has been delivered. Enjoy!"
        case NotificationKind.CANCELLED:
            return (
                f"Order {ref} cancelled",
                f"Order {ref} has been cancelled ({reason}). Anything you paid is refunded.",
            )
        case NotificationKind.SHIPPING_PROBLEM:
            return (
                f"A problem with the delivery of order {ref}",
                f"We could not get order {ref} on its way ({reason}). "
                "Our team is on it and will contact you.",
            )
        case NotificationKind.REJECTED:
            return (
                f"Order {ref} could not be fulfilled",
                f"Sorry: some items of order {ref} are out of stock, so it was not placed. "
                "You have not been charged.",
            )
        case NotificationKind.EXPIRED:
            return (
                f"Order {ref} expired",
                f"Order {ref} was not paid in time, so the items are no longer held for you. "
                "You have not been charged.",
            )
        case NotificationKind.REFUNDED:  # told of by PaymentRefunded, never by a status
            raise AssertionError("refunds are not a status")


def addresses(recipient: Recipient) -> dict[Channel, str]:
    """Each channel the recipient has opted into and can be reached on, with the address."""
    prefs = recipient.preferences
    found: dict[Channel, str] = {}
    if prefs.email:
        found[Channel.EMAIL] = prefs.email_address or recipient.account_email
    if prefs.sms and prefs.phone is not None:
        found[Channel.SMS] = prefs.phone
    if prefs.push:
        found[Channel.PUSH] = recipient.user_id
    return found


def notification_id(event_id: UUID, channel: Channel) -> UUID:
    """The same for every delivery of one event on one channel: what delivery dedupes on."""
    return uuid5(event_id, f"notification/{channel}")


def notifications(
    event: AnyEvent, order: OrderSummary, recipient: Recipient, order_url: str
) -> tuple[CustomerNotification, ...]:
    """The notifications ``event`` produces, one per channel; empty when it is no news.

    ``order_url`` is the order page, where the customer can also retry a failed payment.
    """
    message = message_for(event, order)
    if message is None:
        return ()
    return tuple(
        CustomerNotification(
            notification_id=notification_id(event.event_id, channel),
            event_id=event.event_id,
            occurred_at=event.occurred_at,
            trace_id=event.trace_id,
            kind=message.kind,
            channel=channel,
            order_id=order.order_id,
            user_id=recipient.user_id,
            recipient_name=recipient.name,
            address=address,
            status=message.status,
            subject=message.subject,
            text=message.text,
            link=order_url,
            lines=order.lines if message.with_lines else (),
            total_cents=order.total_cents if message.with_lines else None,
            currency=order.currency if message.with_lines else None,
            tracking_number=(
                order.tracking_number if message.kind is NotificationKind.SHIPPED else None
            ),
            refunded_cents=message.refunded_cents,
        )
        for channel, address in addresses(recipient).items()
    )
