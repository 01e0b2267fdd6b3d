"""Notification preferences in PostgreSQL (read by the notification agent), and the
verification of the addresses they name (``api.services.address_verification``)."""

from __future__ import annotations

from collections.abc import Iterable

import asyncpg

from api.address_codes import VerifiedChannel
from api.problem_types import ProblemType
from api.problems import ApiError
from api.schemas.notifications import (
    NotificationPreferences,
    NotificationPreferencesPublic,
    VerificationCodeSent,
)
from api.services.address_verification import (
    Addresses,
    Verification,
    Verifier,
    check_code,
    forget_replaced,
    refusal,
    send_code,
    send_missing_codes,
    verification,
)

_SELECT = """
SELECT u.email AS account_email,
       p.email_opt_in, p.sms_opt_in, p.push_opt_in, p.phone, p.email
FROM users u LEFT JOIN notification_preferences p ON p.user_id = u.user_id
WHERE u.user_id = $1
"""
# The account's row, held until the transaction ends: one customer's changes apply in turn.
# NO KEY: rows that refer to the account (a cart line) can still be written meanwhile.
_SELECT_FOR_CHANGE = _SELECT + "FOR NO KEY UPDATE OF u"
_UPSERT = """
INSERT INTO notification_preferences
    (user_id, email_opt_in, sms_opt_in, push_opt_in, phone, email, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, now())
ON CONFLICT (user_id) DO UPDATE SET
    email_opt_in = excluded.email_opt_in, sms_opt_in = excluded.sms_opt_in,
    push_opt_in = excluded.push_opt_in, phone = excluded.phone, email = excluded.email,
    updated_at = now()
"""
_GONE = "The account this token was issued to no longer exists."


async def _current(
    connection: asyncpg.Connection, user_id: str, *, for_change: bool
) -> tuple[NotificationPreferences, str]:
    """The preferences as chosen (the defaults if never), and the account's e-mail."""
    row = await connection.fetchrow(_SELECT_FOR_CHANGE if for_change else _SELECT, user_id)
    if row is None:
        raise ApiError(ProblemType.SIGN_IN_REQUIRED, _GONE)
    if row["email_opt_in"] is None:  # never chose
        chosen = NotificationPreferences()
    else:
        chosen = NotificationPreferences(
            email=row["email_opt_in"],
            sms=row["sms_opt_in"],
            push=row["push_opt_in"],
            phone=row["phone"],
            email_address=row["email"],
        )
    return chosen, row["account_email"]


def _addresses(chosen: NotificationPreferences, account_email: str) -> Addresses:
    return Addresses(chosen.email_address or account_email, chosen.phone)


def _public(chosen: NotificationPreferences, state: Verification) -> NotificationPreferencesPublic:
    return NotificationPreferencesPublic(
        **chosen.model_dump(),
        email_verified=state.email_verified,
        phone_verified=state.phone_verified,
        awaiting_code=state.awaiting_code,
    )


def _opted_in(chosen: NotificationPreferences) -> Iterable[VerifiedChannel]:
    # Codes only for the channels in use: an SMS to a number nothing will be sent to costs
    # money for nothing.
    if chosen.email:
        yield "email"
    if chosen.sms:
        yield "sms"


async def get_preferences(pool: asyncpg.Pool, user_id: str) -> NotificationPreferencesPublic:
    async with pool.acquire() as connection:
        chosen, account_email = await _current(connection, user_id, for_change=False)
        state = await verification(connection, user_id, _addresses(chosen, account_email))
    return _public(chosen, state)


async def put_preferences(
    pool: asyncpg.Pool, verifier: Verifier, user_id: str, chosen: NotificationPreferences
) -> NotificationPreferencesPublic:
    """Replace the preferences; send a code to each address in use that is not verified yet.

    All or nothing: a code that cannot be sent (a limit, the mail server) changes nothing.
    """
    async with pool.acquire() as connection, connection.transaction():
        _, account_email = await _current(connection, user_id, for_change=True)
        await connection.execute(
            _UPSERT,
            user_id,
            chosen.email,
            chosen.sms,
            chosen.push,
            chosen.phone,
            chosen.email_address,
        )
        addresses = _addresses(chosen, account_email)
        await forget_replaced(connection, user_id, addresses)
        await send_missing_codes(connection, verifier, user_id, addresses, _opted_in(chosen))
        state = await verification(connection, user_id, addresses)
    return _public(chosen, state)


async def request_code(
    pool: asyncpg.Pool, verifier: Verifier, user_id: str, channel: VerifiedChannel
) -> VerificationCodeSent:
    """A new code to the channel's address, in use or not (to verify a number before SMS is
    turned on, say), replacing the one it waited for."""
    async with pool.acquire() as connection, connection.transaction():
        chosen, account_email = await _current(connection, user_id, for_change=True)
        addresses = _addresses(chosen, account_email)
        address = addresses.of(channel)
        if address is None:
            raise ApiError(
                ProblemType.NOTHING_TO_VERIFY,
                "No phone number is set: save one in the preferences, which sends it a code.",
            )
        state = await verification(connection, user_id, addresses)
        if state.verified(channel):
            raise ApiError(ProblemType.NOTHING_TO_VERIFY, f"{address} is verified already.")
        expires_at = await send_code(connection, verifier, user_id, channel, address)
    return VerificationCodeSent(channel=channel, address=address, expires_at=expires_at)


async def verify_address(
    pool: asyncpg.Pool, verifier: Verifier, user_id: str, channel: VerifiedChannel, code: str
) -> NotificationPreferencesPublic:
    """Check the code typed for the channel; its address is verified if it is right.

    Tries are limited per user before anything is read; a wrong try is counted (and a code
    out of tries is gone) even though the answer is a refusal.
    """
    settings = verifier.settings
    await verifier.limiter.hit("code-check", user_id, settings.verification_attempts_per_window)
    async with pool.acquire() as connection, connection.transaction():
        chosen, account_email = await _current(connection, user_id, for_change=True)
        addresses = _addresses(chosen, account_email)
        address = addresses.of(channel)
        judgement = None
        if address is not None:
            judgement = await check_code(connection, verifier, user_id, channel, address, code)
        state = await verification(connection, user_id, addresses)
    # Raised once the transaction is committed: a wrong try stays counted.
    refused = refusal(judgement, address, state, channel)
    if refused is not None:
        raise refused
    return _public(chosen, state)
