"""One-time codes that verify a notification address: made, kept as a MAC, judged when typed.

A code is six digits: short enough to type from an SMS. One guess has one chance in a million,
and the limits (wrong tries per code, tries per user and window, codes per user and address)
keep guesses from adding up. Only an HMAC-SHA256 of the code is stored, under a key derived
from the gateway's secret and over the user, the channel and the address as well: six digits
are quick to try against a plain hash but not against a keyed one, so the table alone gives no
code away, and a code sent to one address never confirms another.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Final, Literal, TypeAlias

# The channels whose address is verified (push goes to the account itself).
VerifiedChannel: TypeAlias = Literal["email", "sms"]
CHANNELS: Final[tuple[VerifiedChannel, ...]] = ("email", "sms")

CODE_DIGITS: Final = 6
CODE_PATTERN: Final = rf"^[0-9]{{{CODE_DIGITS}}}$"
# Domain separation: the codes' MAC key is derived from, never equal to, the JWT key.
_KEY_LABEL: Final = b"shopstream address verification v1"
# Between the MAC's fields: a control character, which none of them can hold.
_SEPARATOR: Final = "\x1f"


def new_code() -> str:
    """Six random digits, leading zeros kept."""
    return f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"


class CodeMac:
    """The keyed digest a code is stored as, bound to whom and where it was sent."""

    def __init__(self, secret: bytes) -> None:
        self._key = hmac.new(secret, _KEY_LABEL, hashlib.sha256).digest()

    def of(self, user_id: str, channel: str, address: str, code: str) -> bytes:
        message = _SEPARATOR.join((user_id, channel, address, code)).encode()
        return hmac.new(self._key, message, hashlib.sha256).digest()

    def matches(self, mac: bytes, user_id: str, channel: str, address: str, code: str) -> bool:
        return hmac.compare_digest(mac, self.of(user_id, channel, address, code))


class Verdict(Enum):
    RIGHT = "right"  # the address is verified; the code is spent
    WRONG = "wrong"  # refused; the code waits for another try
    SPENT = "spent"  # refused, and that was the last try: the code is gone
    EXPIRED = "expired"  # refused whatever was typed: the code is gone


@dataclass(frozen=True, slots=True)
class Judgement:
    verdict: Verdict
    attempts: int  # wrong tries of the code so far, this one included
    tries_left: int


def judge(
    *, right: bool, attempts: int, expires_at: datetime, now: datetime, max_attempts: int
) -> Judgement:
    """What one typed code comes to, given the stored code's wrong tries so far and expiry.

    An expired code is refused even when right: whoever has it had their time.
    """
    if now >= expires_at:
        return Judgement(Verdict.EXPIRED, attempts, 0)
    if right:
        return Judgement(Verdict.RIGHT, attempts, 0)
    attempts += 1
    tries_left = max(0, max_attempts - attempts)
    return Judgement(Verdict.WRONG if tries_left else Verdict.SPENT, attempts, tries_left)
