"""Accounts and sessions: register, sign in, refresh, sign out, me, change password,
notification preferences."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from api.deps import (
    ClientAddress,
    CurrentUser,
    HasherDep,
    LimiterDep,
    PoolDep,
    SessionsDep,
    SettingsDep,
    TokensDep,
)
from api.openapi import problems
from api.problems import Unauthorized
from api.schemas.notifications import NotificationPreferences, NotificationPreferencesPublic
from api.schemas.users import (
    LoginRequest,
    LogoutRequest,
    PasswordChange,
    RefreshRequest,
    TokenPair,
    UserCreate,
    UserPublic,
)
from api.services import notifications, users

router = APIRouter(tags=["users"])


@router.post(
    "/users",
    status_code=status.HTTP_201_CREATED,
    summary="Create a customer account",
    responses=problems(409, 413, 429, 503),
)
async def register(
    body: UserCreate,
    response: Response,
    pool: PoolDep,
    hasher: HasherDep,
    limiter: LimiterDep,
    settings: SettingsDep,
    address: ClientAddress,
) -> UserPublic:
    await limiter.hit("registration", address, settings.registrations_per_window)
    account = await users.register(pool, hasher, body.email, body.password, body.name)
    response.headers["Location"] = "/users/me"
    return account.public()


@router.post(
    "/auth/login",
    summary="Sign in: an access token and a refresh token",
    responses=problems(401, 413, 429, 503),
)
async def login(
    body: LoginRequest,
    pool: PoolDep,
    hasher: HasherDep,
    tokens: TokensDep,
    sessions: SessionsDep,
    limiter: LimiterDep,
    settings: SettingsDep,
    address: ClientAddress,
) -> TokenPair:
    # Per address and email: one client guessing one account's password is slowed down,
    # without locking the account's owner out from elsewhere.
    await limiter.hit("login", f"{address}|{body.email}", settings.login_attempts_per_window)
    account = await users.authenticate(pool, hasher, body.email, body.password)
    return await users.start_session(account, tokens, sessions)


@router.post(
    "/auth/refresh",
    summary="Exchange a refresh token for new tokens (the old one is spent)",
    responses=problems(401, 413),
)
async def refresh(
    body: RefreshRequest, pool: PoolDep, tokens: TokensDep, sessions: SessionsDep
) -> TokenPair:
    return await users.refresh_session(pool, tokens, sessions, body.refresh_token)


@router.post(
    "/auth/logout",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Sign out: end the session the refresh token belongs to",
    responses=problems(401, 413),
)
async def logout(body: LogoutRequest, sessions: SessionsDep) -> None:
    await users.end_session(sessions, body.refresh_token)


@router.get("/users/me", summary="The signed-in user", responses=problems(401))
async def me(user: CurrentUser, pool: PoolDep) -> UserPublic:
    account = await users.get_account(pool, user.user_id)
    if account is None:
        raise Unauthorized("The account this token was issued to no longer exists.")
    return account.public()


@router.post(
    "/users/me/password",
    summary="Change the password; other sessions end, this one gets new tokens",
    responses=problems(401, 404, 413, 503),
)
async def change_password(
    body: PasswordChange,
    user: CurrentUser,
    pool: PoolDep,
    hasher: HasherDep,
    tokens: TokensDep,
    sessions: SessionsDep,
) -> TokenPair:
    account = await users.change_password(
        pool, hasher, user.user_id, body.current_password, body.new_password
    )
    return await users.start_session(account, tokens, sessions)


@router.get(
    "/users/me/notification-preferences",
    summary="Which channels the signed-in user is notified on, and where",
    responses=problems(401),
)
async def notification_preferences(
    user: CurrentUser, pool: PoolDep
) -> NotificationPreferencesPublic:
    return await notifications.get_preferences(pool, user.user_id)


@router.put(
    "/users/me/notification-preferences",
    summary="Choose the channels (e-mail, SMS, push) and the phone number and e-mail address",
    responses=problems(401, 413, 422),
)
async def set_notification_preferences(
    body: NotificationPreferences, user: CurrentUser, pool: PoolDep
) -> NotificationPreferencesPublic:
    return await notifications.put_preferences(pool, user.user_id, body)
