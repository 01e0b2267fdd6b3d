"""Dependencies as ``Annotated`` aliases, so that routes read like sentences.

``CurrentUser`` is whoever a valid access token names (401 otherwise); ``AdminUser`` is an
admin (403 for anyone else). The others hand out what the app's lifespan opened.
"""

from __future__ import annotations

from typing import Annotated, Any

import asyncpg
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api import clients
from api.dynamo import DynamoDBClient
from api.idempotency import IdempotencyStore
from api.outbox import Outbox
from api.problems import Forbidden, Unauthorized
from api.ratelimit import RateLimiter
from api.resources import Resources
from api.security import AccessTokens, PasswordHasher, Principal, TokenError
from api.services.live import LiveHub
from api.sessions import Sessions
from shopstream.settings import Settings
from streams.publisher import EventPublisher

# Every dependency is ``async def``: none blocks, and FastAPI runs a plain ``def`` in a worker
# thread, a hop that cost more than the rest of a request together.
# auto_error=False: a missing header becomes our own 401 problem, not FastAPI's 403.
_bearer = HTTPBearer(auto_error=False, description="An access token from POST /auth/login.")


async def _resources(request: Request) -> Resources:
    resources: Resources = request.app.state.resources
    return resources


ResourcesDep = Annotated[Resources, Depends(_resources)]


def _need(value: Any, what: str) -> Any:
    # A route is only mounted where its resources are opened; this guards a wiring mistake.
    if value is None:
        raise RuntimeError(f"{what} is not opened in this process (gateway_routers)")
    return value


async def _settings(resources: ResourcesDep) -> Settings:
    return resources.settings


async def _pool(resources: ResourcesDep) -> asyncpg.Pool:
    return resources.pool


async def _publisher(resources: ResourcesDep) -> EventPublisher:
    publisher: EventPublisher = _need(resources.publisher, "the event publisher")
    return publisher


async def _dynamodb(resources: ResourcesDep) -> DynamoDBClient:
    return _need(resources.dynamodb, "DynamoDB")


async def _s3(resources: ResourcesDep) -> Any:
    return _need(resources.s3, "S3")


async def _hasher(resources: ResourcesDep) -> PasswordHasher:
    hasher: PasswordHasher = _need(resources.hasher, "the password hasher")
    return hasher


async def _tokens(resources: ResourcesDep) -> AccessTokens:
    return resources.tokens


async def _sessions(resources: ResourcesDep) -> Sessions:
    sessions: Sessions = _need(resources.sessions, "the sessions table")
    return sessions


async def _limiter(resources: ResourcesDep) -> RateLimiter:
    limiter: RateLimiter = _need(resources.limiter, "the rate limiter")
    return limiter


async def _idempotency(resources: ResourcesDep) -> IdempotencyStore:
    store: IdempotencyStore = _need(resources.idempotency, "the idempotency store")
    return store


async def _outbox(resources: ResourcesDep) -> Outbox:
    outbox: Outbox = _need(resources.outbox, "the outbox")
    return outbox


async def _live(resources: ResourcesDep) -> LiveHub:
    live: LiveHub = _need(resources.live, "the live stream")
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
IdempotencyDep = Annotated[IdempotencyStore, Depends(_idempotency)]
OutboxDep = Annotated[Outbox, Depends(_outbox)]
LiveDep = Annotated[LiveHub, Depends(_live)]


async def _current_user(
    tokens: TokensDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if credentials is None:
        raise Unauthorized("Sign in first: send an access token as 'Authorization: Bearer ...'.")
    try:
        return tokens.verify(credentials.credentials)
    except TokenError as error:
        raise Unauthorized(f"The access token is not valid: {error}.") from error


CurrentUser = Annotated[Principal, Depends(_current_user)]


async def _admin_user(user: CurrentUser) -> Principal:
    if not user.is_admin:
        raise Forbidden("Only an admin may do this.")
    return user


AdminUser = Annotated[Principal, Depends(_admin_user)]


async def client_address(request: Request) -> str:
    # The peer, or the client a trusted proxy (settings.trusted_proxies) forwarded.
    settings: Settings = request.app.state.settings
    return clients.client_address(
        request.client.host if request.client else None,
        request.headers.getlist("x-forwarded-for"),
        settings.trusted_proxies,
    )


ClientAddress = Annotated[str, Depends(client_address)]
