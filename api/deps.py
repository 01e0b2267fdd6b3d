"""Dependencies as ``Annotated`` aliases, so that routes read like sentences.

``CurrentUser`` is whoever a valid access token names (401 otherwise); ``AdminUser`` is an
admin (403 for anyone else); ``SignedInCaller`` is the signed-in user with what the order
routes use, in one dependency. The others hand out what the app's lifespan opened.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Generic, TypeVar

import asyncpg
from fastapi import Depends, Request
from fastapi.openapi.models import HTTPBearer as HTTPBearerModel
from fastapi.security.base import SecurityBase

from api import clients
from api.dynamo import DynamoDBClient
from api.idempotency import IdempotencyStore
from api.outbox import Outbox
from api.problem_types import ProblemType
from api.problems import ApiError
from api.ratelimit import RateLimiter
from api.resources import Resources
from api.security import AccessTokens, PasswordHasher, Principal, TokenError
from api.services.address_verification import Verifier
from api.services.live import LiveHub
from api.sessions import Sessions
from shopstream.settings import Settings
from streams.publisher import EventPublisher

T = TypeVar("T")

# Every dependency is ``async def``: none blocks, and FastAPI runs a plain ``def`` in a worker
# thread, a hop that cost more than the rest of a request together. Each reads what it hands
# out straight from the app's state, one call per dependency: solving chains of small
# dependencies took about 39 % of the app's time per order in an earlier profile.


def _resources_of(request: Request) -> Resources:
    resources: Resources = request.app.state.resources
    return resources


async def _resources(request: Request) -> Resources:
    return _resources_of(request)


ResourcesDep = Annotated[Resources, Depends(_resources)]


def _need(value: Any, what: str) -> Any:
    # A route is only mounted where its resources are opened; this guards a wiring mistake.
    if value is None:
        raise RuntimeError(f"{what} is not opened in this process (gateway_routers)")
    return value


async def _settings(request: Request) -> Settings:
    return _resources_of(request).settings


async def _pool(request: Request) -> asyncpg.Pool:
    return _resources_of(request).pool


async def _publisher(request: Request) -> EventPublisher:
    publisher: EventPublisher = _need(_resources_of(request).publisher, "the event publisher")
    return publisher


async def _dynamodb(request: Request) -> DynamoDBClient:
    return _need(_resources_of(request).dynamodb, "DynamoDB")


async def _s3(request: Request) -> Any:
    return _need(_resources_of(request).s3, "S3")


async def _hasher(request: Request) -> PasswordHasher:
    hasher: PasswordHasher = _need(_resources_of(request).hasher, "the password hasher")
    return hasher


async def _tokens(request: Request) -> AccessTokens:
    return _resources_of(request).tokens


async def _sessions(request: Request) -> Sessions:
    sessions: Sessions = _need(_resources_of(request).sessions, "the sessions table")
    return sessions


async def _limiter(request: Request) -> RateLimiter:
    limiter: RateLimiter = _need(_resources_of(request).limiter, "the rate limiter")
    return limiter


async def _outbox(request: Request) -> Outbox:
    outbox: Outbox = _need(_resources_of(request).outbox, "the outbox")
    return outbox


async def _verifier(request: Request) -> Verifier:
    verifier: Verifier = _need(_resources_of(request).verifier, "the address verifier")
    return verifier


async def _live(request: Request) -> LiveHub:
    live: LiveHub = _need(_resources_of(request).live, "the live stream")
    return live


SettingsDep = Annotated[Settings, Depends(_settings)]
PoolDep = Annotated[asyncpg.Pool, Depends(_pool)]
PublisherDep = Annotated[EventPublisher, Depends(_publisher)]
DynamoDep = Annotated[DynamoDBClient, Depends(_dynamodb)]
S3Dep = Annotated[Any, Depends(_s3)]
HasherDep = Annotated[PasswordHasher, Depends(_hasher)]
TokensDep = Annotated[AccessTokens, Depends(_tokens)]
SessionsDep = Annotated[Sessions, Depends(_sessions)]
LimiterDep = Annotated[RateLimiter, Depends(_limiter)]
OutboxDep = Annotated[Outbox, Depends(_outbox)]
LiveDep = Annotated[LiveHub, Depends(_live)]
VerifierDep = Annotated[Verifier, Depends(_verifier)]


class _Bearer(SecurityBase, Generic[T]):
    """The access token of ``Authorization: Bearer ...`` -> who it names -> ``then(who, ...)``.

    One dependency for the header, the token and what a route needs besides (a token once
    verified is remembered until its expiry, see ``api.security``). As a ``SecurityBase`` it is
    also the bearer scheme of the OpenAPI document. A missing or other scheme is our own 401
    problem, not FastAPI's 403.
    """

    def __init__(self, then: Callable[[Principal, Resources], T]) -> None:
        self.model = HTTPBearerModel(description="An access token from POST /auth/login.")
        self.scheme_name = "HTTPBearer"
        self._then = then

    async def __call__(self, request: Request) -> T:
        resources = _resources_of(request)
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        token = token.strip()
        if not token or scheme.lower() != "bearer":
            raise ApiError(
                ProblemType.SIGN_IN_REQUIRED,
                "Sign in first: send an access token as 'Authorization: Bearer ...'.",
            )
        try:
            user = resources.tokens.verify(token)
        except TokenError as error:
            raise ApiError(
                ProblemType.SIGN_IN_REQUIRED, f"The access token is not valid: {error}."
            ) from error
        return self._then(user, resources)


def _admin(user: Principal, _: Resources) -> Principal:
    if not user.is_admin:
        raise ApiError(ProblemType.ADMIN_ONLY, "Only an admin may do this.")
    return user


@dataclass(frozen=True, slots=True)
class Caller:
    """A signed-in customer's request and what placing or reading an order uses."""

    user: Principal
    pool: asyncpg.Pool
    resources: Resources

    @property
    def publisher(self) -> EventPublisher:
        publisher: EventPublisher = _need(self.resources.publisher, "the event publisher")
        return publisher

    @property
    def idempotency(self) -> IdempotencyStore:
        store: IdempotencyStore = _need(self.resources.idempotency, "the idempotency store")
        return store


def _caller(user: Principal, resources: Resources) -> Caller:
    return Caller(user, resources.pool, resources)


CurrentUser = Annotated[Principal, Depends(_Bearer(lambda user, _: user))]
AdminUser = Annotated[Principal, Depends(_Bearer(_admin))]
# The hot paths' one dependency: who is asking, the pool, the publisher, the idempotency keys.
SignedInCaller = Annotated[Caller, Depends(_Bearer(_caller))]


async def client_address(request: Request) -> str:
    # The peer, or the client a trusted proxy (settings.trusted_proxies) forwarded.
    settings: Settings = request.app.state.settings
    return clients.client_address(
        request.client.host if request.client else None,
        request.headers.getlist("x-forwarded-for"),
        settings.trusted_proxies,
    )


ClientAddress = Annotated[str, Depends(client_address)]
