"""The codes that verify notification addresses: their form, their MAC and their judging."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from api.address_codes import CODE_PATTERN, CodeMac, Verdict, judge, new_code

SECRET = b"a test secret of at least thirty-two bytes"
NOW = datetime(2025, 3, 1, 9, 30, tzinfo=UTC)
LATER = NOW + timedelta(minutes=10)


def test_a_code_is_six_digits_leading_zeros_kept() -> None:
    codes = {new_code() for _ in range(2000)}
    assert all(re.fullmatch(CODE_PATTERN, code) for code in codes)
    assert len(codes) > 1900  # random, not a counter or a constant
    assert any(code.startswith("0") for code in codes)


def test_the_mac_matches_the_code_only_for_its_user_channel_and_address() -> None:
    mac = CodeMac(SECRET)
    stored = mac.of("usr-1", "sms", "+4915112345678", "042917")
    assert mac.matches(stored, "usr-1", "sms", "+4915112345678", "042917")
    assert not mac.matches(stored, "usr-1", "sms", "+4915112345678", "042918")
    assert not mac.matches(stored, "usr-2", "sms", "+4915112345678", "042917")
    assert not mac.matches(stored, "usr-1", "email", "+4915112345678", "042917")
    assert not mac.matches(stored, "usr-1", "sms", "+4915112345679", "042917")


def test_the_mac_is_keyed_so_the_stored_value_alone_does_not_give_the_code_away() -> None:
    stored = CodeMac(SECRET).of("usr-1", "sms", "+4915112345678", "042917")
    other_key = CodeMac(b"another secret, also thirty-two bytes long")
    assert not other_key.matches(stored, "usr-1", "sms", "+4915112345678", "042917")
    assert b"042917" not in stored


def test_the_right_code_in_time_verifies() -> None:
    judgement = judge(right=True, attempts=2, expires_at=LATER, now=NOW, max_attempts=5)
    assert judgement.verdict is Verdict.RIGHT


def test_a_wrong_code_counts_a_try_and_says_how_many_are_left() -> None:
    judgement = judge(right=False, attempts=1, expires_at=LATER, now=NOW, max_attempts=5)
    assert (judgement.verdict, judgement.attempts, judgement.tries_left) == (Verdict.WRONG, 2, 3)


def test_the_last_wrong_try_spends_the_code() -> None:
    judgement = judge(right=False, attempts=4, expires_at=LATER, now=NOW, max_attempts=5)
    assert (judgement.verdict, judgement.tries_left) == (Verdict.SPENT, 0)


def test_an_expired_code_is_refused_even_when_right() -> None:
    judgement = judge(right=True, attempts=0, expires_at=NOW, now=NOW, max_attempts=5)
    assert judgement.verdict is Verdict.EXPIRED
