"""What the notification agent reads from PostgreSQL: the recipient and the order.

The account, its notification preferences and the addresses it has verified are the
gateway's tables (``users``, ``notification_preferences``, ``verified_addresses``); the order
and its lines are the order-status projection's. Read only: the worker never writes the
gateway's tables.

E-mail and SMS go only to a verified address: the one e-mail goes to (the preferences' own or
the account's) and the phone number must each have a row in ``verified_addresses``, or that
channel is left out here, before the domain picks the addresses.
"""

from __future__ import annotations

import asyncpg

from shopstream.logs import get_logger
from streams.contract import OrderLine
from streams.domain.notifications import OrderSummary, Preferences, Recipient, only_verified

log = get_logger(__name__)

_RECIPIENT = """
SELECT u.user_id, u.name, u.email,
       p.email_opt_in, p.sms_opt_in, p.push_opt_in, p.phone, p.email AS notification_email,
       EXISTS (SELECT FROM verified_addresses v
               WHERE v.user_id = u.user_id AND v.channel = 'email'
                 AND v.address = coalesce(p.email, u.email)) AS email_verified,
       EXISTS (SELECT FROM verified_addresses v
               WHERE v.user_id = u.user_id AND v.channel = 'sms'
                 AND v.address = p.phone) AS phone_verified
FROM users u LEFT JOIN notification_preferences p ON p.user_id = u.user_id
WHERE u.user_id = $1
"""
_ORDER = """
SELECT order_id, user_id, total_cents, currency, tracking_number FROM orders WHERE order_id = $1
"""
_LINES = """
SELECT sku, quantity, unit_price_cents FROM order_lines WHERE order_id = $1 ORDER BY line_no
"""


async def load_recipient(pool: asyncpg.Pool, user_id: str) -> Recipient | None:
    """The account and its preferences, unverified addresses left out; None when there is no
    such account (or, before the gateway has migrated the database, no tables to read)."""
    try:
        row = await pool.fetchrow(_RECIPIENT, user_id)
    except asyncpg.exceptions.UndefinedTableError as error:
        log.warning("the gateway has not made its tables yet: nobody to notify", error=str(error))
        return None
    if row is None:
        return None
    if row["email_opt_in"] is None:  # never chose: the defaults
        preferences = Preferences()
    else:
        preferences = Preferences(
            email=row["email_opt_in"],
            sms=row["sms_opt_in"],
            push=row["push_opt_in"],
            phone=row["phone"],
            email_address=row["notification_email"],
        )
    reachable = only_verified(
        preferences, email_verified=row["email_verified"], phone_verified=row["phone_verified"]
    )
    if reachable != preferences:
        log.info(
            "unverified addresses left out",
            user_id=user_id,
            email=preferences.email and not reachable.email,
            sms=preferences.sms and not reachable.sms,
        )
    return Recipient(row["user_id"], row["name"], row["email"], reachable)


async def load_order(pool: asyncpg.Pool, order_id: str) -> OrderSummary | None:
    async with pool.acquire() as connection:
        order = await connection.fetchrow(_ORDER, order_id)
        if order is None:
            return None
        lines = await connection.fetch(_LINES, order_id)
    return OrderSummary(
        order_id=order["order_id"],
        user_id=order["user_id"],
        lines=tuple(
            OrderLine(
                sku=line["sku"],
                quantity=line["quantity"],
                unit_price_cents=line["unit_price_cents"],
            )
            for line in lines
        ),
        total_cents=order["total_cents"],
        currency=order["currency"],
        tracking_number=order["tracking_number"],
    )
