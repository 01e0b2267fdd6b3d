"""Verifying the addresses notifications go to: codes sent there, codes typed back.

E-mail and SMS go only to an address the customer proved is theirs (``verified_addresses``,
read by the notification agent), so that the shop cannot be made to mail or text whoever a
customer names. Each function here works in its caller's transaction, which holds the
account's row (``FOR NO KEY UPDATE``), so that one customer's saves, sends and tries apply one
at a time. A code is sent inside that transaction too: a send refused by a limit (429) or by
the mail server or SNS (503) leaves nothing changed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from api.address_codes import CodeMac, Judgement, Verdict, VerifiedChannel, judge, new_code
from api.code_sender import CodeSender
from api.problem_types import ProblemType
from api.problems import ApiError
from api.ratelimit import RateLimiter
from shopstream.logs import get_logger
from shopstream.settings import Settings

log = get_logger(__name__)

# Where the path to ask for a new code is named in problem details.
ASK_AGAIN = "ask for a new one (POST /users/me/notification-preferences/verification-codes)"

# A verification or a waiting code belongs to an address only while it is the channel's.
_NOT_CURRENT = """
user_id = $1 AND NOT ((channel = 'email' AND address = $2)
                      OR (channel = 'sms' AND address IS NOT DISTINCT FROM $3))
"""
_STATE = """
SELECT EXISTS (SELECT FROM verified_addresses
               WHERE user_id = $1 AND channel = 'email' AND address = $2) AS email_verified,
       EXISTS (SELECT FROM verified_addresses
               WHERE user_id = $1 AND channel = 'sms' AND address = $3) AS phone_verified,
       ARRAY(SELECT channel FROM verification_codes
             WHERE user_id = $1 AND expires_at > now()
               AND address = CASE channel WHEN 'email' THEN $2 ELSE $3 END
             ORDER BY channel) AS awaiting_code
"""
_STORE_CODE = """
INSERT INTO verification_codes (user_id, channel, address, code_mac, attempts, sent_at, expires_at)
VALUES ($1, $2, $3, $4, 0, now(), now() + make_interval(secs => $5))
ON CONFLICT (user_id, channel) DO UPDATE SET
    address = excluded.address, code_mac = excluded.code_mac, attempts = 0,
    sent_at = excluded.sent_at, expires_at = excluded.expires_at
RETURNING expires_at
"""
_WAITING_CODE = """
SELECT address, code_mac, attempts, expires_at, now() AS now
FROM verification_codes WHERE user_id = $1 AND channel = $2
FOR UPDATE
"""


@dataclass(frozen=True, slots=True)
class Verifier:
    """What sending and checking codes take, opened once per gateway process."""

    settings: Settings
    limiter: RateLimiter
    sender: CodeSender
    mac: CodeMac


@dataclass(frozen=True, slots=True)
class Addresses:
    """Where a customer's e-mail and SMS go: the account's e-mail unless another is chosen."""

    email: str
    phone: str | None

    def of(self, channel: VerifiedChannel) -> str | None:
        return self.email if channel == "email" else self.phone


@dataclass(frozen=True, slots=True)
class Verification:
    email_verified: bool
    phone_verified: bool
    awaiting_code: list[VerifiedChannel]

    def verified(self, channel: VerifiedChannel) -> bool:
        return self.email_verified if channel == "email" else self.phone_verified


async def verification(
    connection: asyncpg.Connection, user_id: str, addresses: Addresses
) -> Verification:
    row = await connection.fetchrow(_STATE, user_id, addresses.email, addresses.phone)
    return Verification(row["email_verified"], row["phone_verified"], list(row["awaiting_code"]))


async def forget_replaced(
    connection: asyncpg.Connection, user_id: str, addresses: Addresses
) -> None:
    """Drop the verifications and the waiting codes of addresses that are no longer the
    channels': an address chosen again later is verified again (a number changes hands)."""
    for table in ("verified_addresses", "verification_codes"):
        await connection.execute(
            f"DELETE FROM {table} WHERE {_NOT_CURRENT}",  # noqa: S608 - our own names only
            user_id,
            addresses.email,
            addresses.phone,
        )


async def send_code(
    connection: asyncpg.Connection,
    verifier: Verifier,
    user_id: str,
    channel: VerifiedChannel,
    address: str,
) -> datetime:
    """A new code to ``address``, replacing any the channel waited for; when it expires.

    Limited per user and per address (SMS pumping: each SMS costs money, and a fraudster's
    premium numbers earn it); counted before anything is stored or sent.
    """
    settings = verifier.settings
    window = settings.verification_sends_window_s
    await verifier.limiter.hit(
        "code-send", user_id, settings.verification_sends_per_user_per_window, window
    )
    await verifier.limiter.hit(
        "code-send-to-address",
        f"{channel}:{address}",
        settings.verification_sends_per_address_per_window,
        window,
    )
    code = new_code()
    expires_at: datetime = await connection.fetchval(
        _STORE_CODE,
        user_id,
        channel,
        address,
        verifier.mac.of(user_id, channel, address, code),
        float(settings.verification_code_ttl_s),
    )
    await verifier.sender.send(channel, address, code)
    log.info("verification code sent", user_id=user_id, channel=channel)
    return expires_at


async def send_missing_codes(
    connection: asyncpg.Connection,
    verifier: Verifier,
    user_id: str,
    addresses: Addresses,
    channels: Iterable[VerifiedChannel],
) -> None:
    """A code to the address of each of ``channels`` that has one and is neither verified nor
    waiting for a code already (saving the same preferences again sends nothing new)."""
    state = await verification(connection, user_id, addresses)
    for channel in channels:
        address = addresses.of(channel)
        if address and not state.verified(channel) and channel not in state.awaiting_code:
            await send_code(connection, verifier, user_id, channel, address)


async def check_code(
    connection: asyncpg.Connection,
    verifier: Verifier,
    user_id: str,
    channel: VerifiedChannel,
    address: str,
    code: str,
) -> Judgement | None:
    """Judge ``code`` against the one the channel waits for, and record what it comes to: the
    address verified, a wrong try counted, or the code gone. None: no code is waiting."""
    row = await connection.fetchrow(_WAITING_CODE, user_id, channel)
    if row is None or row["address"] != address:
        return None
    right = verifier.mac.matches(row["code_mac"], user_id, channel, address, code)
    judgement = judge(
        right=right,
        attempts=row["attempts"],
        expires_at=row["expires_at"],
        now=row["now"],
        max_attempts=verifier.settings.verification_code_max_attempts,
    )
    if judgement.verdict is Verdict.WRONG:
        await connection.execute(
            "UPDATE verification_codes SET attempts = $3 WHERE user_id = $1 AND channel = $2",
            user_id,
            channel,
            judgement.attempts,
        )
        return judgement
    await connection.execute(
        "DELETE FROM verification_codes WHERE user_id = $1 AND channel = $2", user_id, channel
    )
    if judgement.verdict is Verdict.RIGHT:
        await connection.execute(
            "INSERT INTO verified_addresses (user_id, channel, address) VALUES ($1, $2, $3) "
            "ON CONFLICT DO NOTHING",
            user_id,
            channel,
            address,
        )
        log.info("address verified", user_id=user_id, channel=channel)
    return judgement


def refusal(
    judgement: Judgement | None, address: str | None, state: Verification, channel: VerifiedChannel
) -> ApiError | None:
    """The problem a try that did not verify the address is answered with; None if it did."""
    if judgement is None:
        if address is None:
            return ApiError(
                ProblemType.NO_CODE_WAITING,
                "No phone number is set, so no code is waiting: save one in the preferences.",
            )
        if state.verified(channel):
            return ApiError(
                ProblemType.NO_CODE_WAITING, f"{address} is verified already; no code is waiting."
            )
        return ApiError(
            ProblemType.NO_CODE_WAITING,
            f"No code is waiting for {address}: it was used, replaced or never sent; {ASK_AGAIN}.",
        )
    match judgement.verdict:
        case Verdict.RIGHT:
            return None
        case Verdict.EXPIRED:
            return ApiError(
                ProblemType.CODE_EXPIRED, f"The code sent to {address} has expired; {ASK_AGAIN}."
            )
        case Verdict.SPENT:
            return ApiError(
                ProblemType.WRONG_CODE,
                f"That is not the code sent to {address}, and it was the code's last try; "
                f"{ASK_AGAIN}.",
                tries_left=0,
            )
        case Verdict.WRONG:
            left = judgement.tries_left
            return ApiError(
                ProblemType.WRONG_CODE,
                f"That is not the code sent to {address}; {left} more "
                f"{'try' if left == 1 else 'tries'} for this code.",
                tries_left=left,
            )
