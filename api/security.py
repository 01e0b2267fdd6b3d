"""Passwords (argon2id) and access tokens (JWT).

Passwords. argon2id with OWASP's parameters (19 MiB, 2 passes, 1 lane, from the settings).
A hash holds a core and its memory for tens of milliseconds, in a worker thread (argon2-cffi
releases the GIL), so a semaphore lets only ``password_hash_concurrency`` run at once: a burst
of logins waits its turn (or gets a 503 after ``password_hash_queue_timeout_s``) while orders,
which never hash, keep being served. An unknown email is checked against a dummy hash, so
that a login takes as long whether the account exists or not.

Access tokens. HS256 only, checked on the header before anything else: ``alg: none``, another
HMAC and an asymmetric algorithm (the classic swap, where a public key is used as an HMAC
secret) are all refused. The header's ``typ`` must be ``at+jwt`` (RFC 9068), so no other JWT
signed with this key passes as an access token; ``iss``, ``aud``, ``exp``, ``iat`` and ``sub``
are required and checked, with a few seconds of leeway for clock skew between replicas.

A token once verified is remembered (up to ``access_token_cache_size`` of them, the least
recently used dropped first) until its own expiry: a client sends the same token with every
request, and checking it again each time cost about 5 % of the gateway's CPU per order. The key
is the whole token, signature included, so only those exact bytes are recognised; the claims
it carries cannot change, so nothing is lost that checking it again would have caught.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final, Literal, TypeVar, cast, get_args

import jwt
from argon2 import PasswordHasher as Argon2Hasher
from argon2 import Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from api.problem_types import ProblemType
from api.problems import ApiError
from shopstream.settings import Settings

Role = Literal["customer", "admin"]
ROLES: Final[tuple[Role, ...]] = get_args(Role)

ALGORITHMS: Final = ("HS256",)
ACCESS_TOKEN_TYPE: Final = "at+jwt"  # noqa: S105 - a media type, not a secret
_LEEWAY: Final = timedelta(seconds=5)

T = TypeVar("T")


class PasswordHasher:
    """argon2id hashing and verification, at most ``concurrency`` at a time."""

    def __init__(self, settings: Settings) -> None:
        self._argon2 = Argon2Hasher(
            time_cost=settings.password_hash_time_cost,
            memory_cost=settings.password_hash_memory_kib,
            parallelism=1,
            hash_len=32,
            salt_len=16,
            type=Type.ID,
        )
        self._slots = asyncio.Semaphore(settings.password_hash_concurrency)
        self._queue_timeout_s = settings.password_hash_queue_timeout_s
        self._dummy: str | None = None

    async def hash(self, password: str) -> str:
        return await self._run(lambda: self._argon2.hash(password))

    async def verify(self, stored: str | None, password: str) -> bool:
        """Whether ``password`` matches ``stored``; ``None`` (no account) costs a hash too."""
        if stored is None:
            if self._dummy is None:
                self._dummy = await self.hash(uuid.uuid4().hex)
            dummy = self._dummy
            await self._run(lambda: self._check(dummy, password))
            return False
        return await self._run(lambda: self._check(stored, password))

    def needs_rehash(self, stored: str) -> bool:
        """Whether ``stored`` was made with other parameters than today's (rehash on login)."""
        return self._argon2.check_needs_rehash(stored)

    def _check(self, stored: str, password: str) -> bool:
        try:
            return self._argon2.verify(stored, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    async def _run(self, work: Callable[[], T]) -> T:
        try:
            async with asyncio.timeout(self._queue_timeout_s):
                await self._slots.acquire()
        except TimeoutError:
            raise ApiError(
                ProblemType.SIGN_IN_BUSY,
                "Too many sign-ins at once; try again in a moment.",
                retry_after_s=2,
            ) from None
        try:
            return await asyncio.to_thread(work)
        finally:
            self._slots.release()


class TokenError(Exception):
    """An access token that is not valid; the message says why (and may be shown)."""


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling, as the access token says."""

    user_id: str
    role: Role

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


class AccessTokens:
    def __init__(self, settings: Settings, clock: Callable[[], float] = time.time) -> None:
        self._key = settings.jwt_secret.get_secret_value().encode()
        self._issuer = settings.jwt_issuer
        self._audience = settings.jwt_audience
        self.ttl = timedelta(seconds=settings.access_token_ttl_s)
        self._clock = clock
        self._cache_size = settings.access_token_cache_size
        # token -> (who it names, its exp as a timestamp), least recently used first.
        self._verified: OrderedDict[str, tuple[Principal, float]] = OrderedDict()

    def issue(self, user_id: str, role: Role, now: datetime | None = None) -> str:
        now = now or datetime.now(UTC)
        claims = {
            "iss": self._issuer,
            "aud": self._audience,
            "sub": user_id,
            "role": role,
            "iat": now,
            "exp": now + self.ttl,
            "jti": uuid.uuid4().hex,
        }
        return jwt.encode(
            claims, self._key, algorithm=ALGORITHMS[0], headers={"typ": ACCESS_TOKEN_TYPE}
        )

    def verify(self, token: str) -> Principal:
        remembered = self._verified.get(token)
        if remembered is not None:
            principal, expires = remembered
            if self._clock() < expires + _LEEWAY.total_seconds():
                self._verified.move_to_end(token)
                return principal
            del self._verified[token]
            raise TokenError("token expired")
        principal, expires = self._check(token)
        self._verified[token] = (principal, expires)
        if len(self._verified) > self._cache_size:
            self._verified.popitem(last=False)
        return principal

    def _check(self, token: str) -> tuple[Principal, float]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError as error:
            raise TokenError(f"malformed token: {error}") from error
        algorithm = header.get("alg")
        if algorithm not in ALGORITHMS:
            raise TokenError(f"algorithm {algorithm!r} is not accepted")
        if header.get("typ") != ACCESS_TOKEN_TYPE:
            raise TokenError(f"not an access token (typ {header.get('typ')!r})")
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=list(ALGORITHMS),
                audience=self._audience,
                issuer=self._issuer,
                leeway=_LEEWAY,
                options={"require": ["exp", "iat", "iss", "aud", "sub"]},
            )
        except jwt.ExpiredSignatureError as error:
            raise TokenError("token expired") from error
        except jwt.InvalidTokenError as error:
            raise TokenError(str(error)) from error
        role = claims.get("role")
        subject = claims["sub"]
        if role not in ROLES or not isinstance(subject, str) or not subject:
            raise TokenError("token carries no valid subject and role")
        return Principal(user_id=subject, role=cast(Role, role)), float(claims["exp"])
