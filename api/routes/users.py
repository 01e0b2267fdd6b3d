"""Accounts and sessions: register, sign in, refresh, sign out, me, change password,
notification preferences."""

from __future__ import annotations

from fastapi import APIRouter, status

from api.deps import (
    ClientAddress,
    CurrentUser,
    HasherDep,
    LimiterDep,
    PoolDep,
    SessionsDep,
    SettingsDep,
    TokensDep,
    VerifierDep,
)
from api.openapi import problems
from api.problem_types import ProblemType
from api.problems import ApiError
from api.schemas.notifications import (
    AddressVerification,
    CodeRefusedProblem,
    NotificationPreferences,
    NotificationPreferencesPublic,
    VerificationCodeRequest,
    VerificationCodeSent,
)
from api.schemas.users import (
    LoginRequest,
    LogoutRequest,
    PasswordChange,
    RefreshRequest,
    RegistrationAccepted,
    TokenPair,
    UserCreate,
    UserPublic,
)
from api.services import notifications, users

router = APIRouter(tags=["users"])


# Registration never tells whether an email has an account: a new email gets one, a known one
# is left as it was, and both get this answer (after the same work: a password hash). Whoever
# owns the email signs in next; anyone else learns nothing they could not learn from sign-in.
_REGISTERED = (
    "Registration received: sign in with this email and password. If the email had an "
    "account already, that account is unchanged and keeps its own password."
)


@router.post(
    "/users",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Create a customer account (the answer does not say whether the email had one)",
    responses=problems(413, 429, 503),
)
async def register_user(
    body: UserCreate,
    pool: PoolDep,
    hasher: HasherDep,
    limiter: LimiterDep,
    settings: SettingsDep,
    address: ClientAddress,
) -> RegistrationAccepted:
    """Anyone. The answer is the same whether or not the email had an account, so it tells nobody
    which emails are customers'; an existing account is left as it was. Sign in next. Limited per
    client address (429, with ``Retry-After``)."""
    await limiter.hit("registration", address, settings.registrations_per_window)
    await users.register(pool, hasher, body.email, body.password, body.name)
    return RegistrationAccepted(email=body.email, detail=_REGISTERED)


@router.post(
    "/auth/login",
    summary="Sign in: an access token and a refresh token",
    responses=problems(401, 413, 429, 503),
)
async def sign_in(
    body: LoginRequest,
    pool: PoolDep,
    hasher: HasherDep,
    tokens: TokensDep,
    sessions: SessionsDep,
    limiter: LimiterDep,
    settings: SettingsDep,
    address: ClientAddress,
) -> TokenPair:
    """An access token (send it as ``Authorization: Bearer``; short-lived) and a refresh token for
    ``/auth/refresh``. 401 for a wrong email or password alike. Attempts are limited per client
    address and per address and email (429); 503 when sign-in is too busy to check a password now
    (try again after ``Retry-After``)."""
    # Per address: one client spraying a password over many accounts. Per address and email:
    # one client guessing one account's password, without locking the account's owner out
    # from elsewhere. Both before the hash, so refused attempts cost no hasher slot.
    await limiter.hit("login-address", address, settings.login_attempts_per_address_per_window)
    await limiter.hit("login", f"{address}|{body.email}", settings.login_attempts_per_window)
    account = await users.authenticate(pool, hasher, body.email, body.password)
    return await users.start_session(account, tokens, sessions)


@router.post(
    "/auth/refresh",
    summary="Exchange a refresh token for new tokens (the old one is spent)",
    responses=problems(401, 413),
)
async def refresh_tokens(
    body: RefreshRequest, pool: PoolDep, tokens: TokensDep, sessions: SessionsDep
) -> TokenPair:
    """Each refresh token works once: the answer has the next one. Using a spent token again ends
    the whole session (someone holds a copy), and its owner signs in again."""
    return await users.refresh_session(pool, tokens, sessions, body.refresh_token)


@router.post(
    "/auth/logout",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Sign out: end the session the refresh token belongs to",
    responses=problems(401, 413),
)
async def sign_out(body: LogoutRequest, sessions: SessionsDep) -> None:
    """Ends the session: none of its refresh tokens works any more. Access tokens already issued run
    out by themselves."""
    await users.end_session(sessions, body.refresh_token)


@router.get("/users/me", summary="The signed-in user", responses=problems(401))
async def get_current_user(user: CurrentUser, pool: PoolDep) -> UserPublic:
    """The account the access token was issued to; 401 once it no longer exists."""
    account = await users.get_account(pool, user.user_id)
    if account is None:
        raise ApiError(
            ProblemType.SIGN_IN_REQUIRED,
            "The account this token was issued to no longer exists.",
        )
    return account.public()


@router.post(
    "/users/me/password",
    summary="Change the password; other sessions end, this one gets new tokens",
    responses=problems(401, 404, 413, 429, 503),
)
async def change_password(
    body: PasswordChange,
    user: CurrentUser,
    pool: PoolDep,
    hasher: HasherDep,
    tokens: TokensDep,
    sessions: SessionsDep,
    limiter: LimiterDep,
    settings: SettingsDep,
) -> TokenPair:
    """Needs the current password (401 when wrong; limited per user). Sessions started before can no
    longer be refreshed; the answer has new tokens for this one."""
    # A stolen access token must not become unlimited guessing of the current password.
    await limiter.hit("password-change", user.user_id, settings.password_changes_per_window)
    account = await users.change_password(
        pool, hasher, user.user_id, body.current_password, body.new_password
    )
    return await users.start_session(account, tokens, sessions)


@router.get(
    "/users/me/notification-preferences",
    summary="Which channels the signed-in user is notified on, where, and what is verified",
    responses=problems(401),
)
async def get_notification_preferences(
    user: CurrentUser, pool: PoolDep
) -> NotificationPreferencesPublic:
    """The channels the signed-in customer hears about orders on, and the phone number and e-mail
    address used. Until chosen: e-mail and push, not SMS. E-mail and SMS go only to verified
    addresses (``email_verified``, ``phone_verified``); ``awaiting_code`` names the channels a
    code was sent to."""
    return await notifications.get_preferences(pool, user.user_id)


@router.put(
    "/users/me/notification-preferences",
    summary="Choose the channels (e-mail, SMS, push) and the phone number and e-mail address; "
    "an address in use that is not verified yet is sent a code",
    responses=problems(401, 413, 422, 429, 503),
)
async def set_notification_preferences(
    body: NotificationPreferences, user: CurrentUser, pool: PoolDep, verifier: VerifierDep
) -> NotificationPreferencesPublic:
    """Replaces the whole set. SMS needs a phone number (E.164, 422 without one); without
    ``email_address``, e-mail goes to the account's address.

    E-mail and SMS go only to verified addresses. Saving sends a one-time code to the e-mail
    address and the phone number of the channels turned on, unless the address is verified or
    a code sent to it is still waiting; type it into
    ``POST /users/me/notification-preferences/verify``. An address replaced is forgotten:
    choosing it again verifies it again. Nothing changes when a code cannot be sent (429: too
    many codes; 503: the mail server or SNS did not take it)."""
    return await notifications.put_preferences(pool, verifier, user.user_id, body)


@router.post(
    "/users/me/notification-preferences/verification-codes",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Send a new code to the channel's address (replacing the one it waited for)",
    responses=problems(401, 409, 413, 422, 429, 503),
)
async def send_verification_code(
    body: VerificationCodeRequest, user: CurrentUser, pool: PoolDep, verifier: VerifierDep
) -> VerificationCodeSent:
    """To the address the preferences name for the channel, whether the channel is on or not
    (409 when it has none, or it is verified already). Limited per user and per address."""
    return await notifications.request_code(pool, verifier, user.user_id, body.channel)


@router.post(
    "/users/me/notification-preferences/verify",
    summary="Type back the code sent to the channel's address: the address is then verified",
    responses={**problems(401, 409, 413, 429), **problems(422, model=CodeRefusedProblem)},
)
async def verify_notification_address(
    body: AddressVerification, user: CurrentUser, pool: PoolDep, verifier: VerifierDep
) -> NotificationPreferencesPublic:
    """A code is single-use, expires, and is spent after a few wrong tries (``tries_left``);
    tries are also limited per user (429). The answer is the preferences, now verified."""
    return await notifications.verify_address(pool, verifier, user.user_id, body.channel, body.code)
