from __future__ import annotations

import asyncio
import threading
import time
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from pydantic import SecretStr

from api.problem_types import ProblemType
from api.problems import ApiError
from api.security import AccessTokens, PasswordHasher, TokenError
from shopstream.settings import Settings

SETTINGS = Settings()


def test_an_issued_access_token_verifies_to_its_user_and_role() -> None:
    tokens = AccessTokens(SETTINGS)
    principal = tokens.verify(tokens.issue("usr_1", "admin"))
    assert (principal.user_id, principal.role, principal.is_admin) == ("usr_1", "admin", True)


def test_an_access_token_says_what_it_is_in_its_header() -> None:
    header = jwt.get_unverified_header(AccessTokens(SETTINGS).issue("usr_1", "customer"))
    assert header == {"alg": "HS256", "typ": "at+jwt"}


def test_an_expired_token_is_refused_as_expired() -> None:
    tokens = AccessTokens(SETTINGS)
    old = tokens.issue("usr_1", "customer", now=datetime.now(UTC) - timedelta(hours=1))
    with pytest.raises(TokenError, match="expired"):
        tokens.verify(old)


def test_a_token_from_another_deployment_is_refused() -> None:
    other = Settings(jwt_secret=SecretStr("another deployment's secret, 32+ bytes long"))
    with pytest.raises(TokenError):
        AccessTokens(SETTINGS).verify(AccessTokens(other).issue("usr_1", "admin"))


def test_an_unsigned_token_is_refused_for_its_algorithm() -> None:
    unsigned = jwt.encode(
        {"sub": "usr_1", "role": "admin"}, key="", algorithm="none", headers={"typ": "at+jwt"}
    )
    with pytest.raises(TokenError, match="algorithm 'none'"):
        AccessTokens(SETTINGS).verify(unsigned)


async def test_a_password_hash_is_argon2id_with_owasp_parameters_and_verifies() -> None:
    hasher = PasswordHasher(SETTINGS)
    stored = await hasher.hash("correct horse battery staple")
    assert stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert await hasher.verify(stored, "correct horse battery staple")
    assert not await hasher.verify(stored, "Correct horse battery staple")
    assert not hasher.needs_rehash(stored)


async def test_an_unknown_account_costs_a_hash_and_never_matches() -> None:
    hasher = PasswordHasher(SETTINGS)
    assert not await hasher.verify(None, "anything")
    assert not await hasher.verify("not a hash at all", "anything")


async def test_no_more_hashes_run_at_once_than_the_cap() -> None:
    hasher = PasswordHasher(SETTINGS.model_copy(update={"password_hash_concurrency": 2}))
    real = hasher._argon2
    running = peak = 0
    lock = threading.Lock()

    class Counting:
        def hash(self, password: str) -> str:
            nonlocal running, peak
            with lock:
                running += 1
                peak = max(peak, running)
            try:
                time.sleep(0.02)  # long enough for the others to pile up if they could
                return real.hash(password)
            finally:
                with lock:
                    running -= 1

    hasher._argon2 = Counting()  # type: ignore[assignment]
    await asyncio.gather(*(hasher.hash(f"password {n}") for n in range(8)))
    assert peak == 2


async def test_a_hash_that_waits_too_long_for_a_slot_is_refused_with_retry_after() -> None:
    settings = SETTINGS.model_copy(
        update={"password_hash_concurrency": 1, "password_hash_queue_timeout_s": 0.001}
    )
    hasher = PasswordHasher(settings)
    results = await asyncio.gather(
        *(hasher.hash(f"password {n}") for n in range(3)), return_exceptions=True
    )
    refused = [result for result in results if isinstance(result, ApiError)]
    assert refused
    assert refused[0].kind is ProblemType.SIGN_IN_BUSY
    assert refused[0].status == 503
    assert "Retry-After" in refused[0].headers


def test_a_remembered_token_is_refused_once_it_expires() -> None:
    now = [time.time()]
    tokens = AccessTokens(SETTINGS, clock=lambda: now[0])
    token = tokens.issue("usr_1", "customer")
    assert tokens.verify(token).user_id == "usr_1"
    assert tokens.verify(token).user_id == "usr_1"  # from memory, still valid
    now[0] += SETTINGS.access_token_ttl_s + 60
    with pytest.raises(TokenError, match="expired"):
        tokens.verify(token)


def test_a_tampered_copy_of_a_remembered_token_is_still_refused() -> None:
    tokens = AccessTokens(SETTINGS)
    token = tokens.issue("usr_1", "customer")
    tokens.verify(token)
    head, payload, signature = token.split(".")
    forged = ".".join((head, payload, signature[:-2] + ("AA" if signature[-2:] != "AA" else "BB")))
    with pytest.raises(TokenError):
        tokens.verify(forged)


def test_only_so_many_tokens_are_remembered_the_least_recently_used_go_first() -> None:
    now = [time.time()]
    settings = Settings(access_token_cache_size=2)
    tokens = AccessTokens(settings, clock=lambda: now[0])
    first, second, third = (tokens.issue(f"usr_{n}", "customer") for n in range(3))
    tokens.verify(first)
    tokens.verify(second)
    tokens.verify(first)  # now the most recent
    tokens.verify(third)  # pushes out the least recent: second
    now[0] += settings.access_token_ttl_s + 60
    # Remembered tokens are judged by the (moved) clock; a forgotten one is checked afresh,
    # by PyJWT against the real time, and still passes.
    for remembered in (first, third):
        with pytest.raises(TokenError, match="expired"):
            tokens.verify(remembered)
    assert tokens.verify(second).user_id == "usr_1"
