"""Accounts, sign-in, sessions and password changes."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from api.problem_types import ProblemType
from api.problems import ApiError
from api.schemas.users import TokenPair, UserPublic
from api.security import AccessTokens, PasswordHasher, Role
from api.sessions import SessionError, Sessions
from shopstream.logs import get_logger

log = get_logger(__name__)

_COLUMNS = "user_id, email, name, role, created_at"
_WRONG_CREDENTIALS = "The email or the password is wrong."


@dataclass(frozen=True, slots=True)
class Account:
    user_id: str
    email: str
    name: str
    role: Role
    created_at: datetime
    token_version: int = 1

    def public(self) -> UserPublic:
        return UserPublic(
            user_id=self.user_id,
            email=self.email,
            name=self.name,
            role=self.role,
            created_at=self.created_at,
        )


def _account(row: asyncpg.Record) -> Account:
    return Account(
        user_id=row["user_id"],
        email=row["email"],
        name=row["name"],
        role=row["role"],
        created_at=row["created_at"],
        token_version=row["token_version"],
    )


async def register(
    pool: asyncpg.Pool,
    hasher: PasswordHasher,
    email: str,
    password: str,
    name: str,
    role: Role = "customer",
) -> Account | None:
    """A new account, or None if the email has one already (which is left as it is).

    The password is hashed either way, so that both cases take as long: the caller answers
    them alike, and neither the answer nor its timing tells whether an email is registered.
    Only the command line makes admins.
    """
    password_hash = await hasher.hash(password)
    row = await pool.fetchrow(
        f"""
        INSERT INTO users (user_id, email, name, password_hash, role)
        VALUES ($1, $2, $3, $4, $5)
        ON CONFLICT (email) DO NOTHING
        RETURNING {_COLUMNS}, token_version
        """,  # noqa: S608 - only our own column list is interpolated
        f"usr_{uuid.uuid4().hex}",
        email,
        name,
        password_hash,
        role,
    )
    if row is None:
        log.info("registration for an email that has an account; nothing changed")
        return None
    return _account(row)


async def get_account(pool: asyncpg.Pool, user_id: str) -> Account | None:
    row = await pool.fetchrow(
        f"SELECT {_COLUMNS}, token_version FROM users WHERE user_id = $1",  # noqa: S608
        user_id,
    )
    return None if row is None else _account(row)


async def authenticate(
    pool: asyncpg.Pool, hasher: PasswordHasher, email: str, password: str
) -> Account:
    """The account if the password matches; WRONG_CREDENTIALS (same words either way) if not."""
    row = await pool.fetchrow(
        f"SELECT {_COLUMNS}, token_version, password_hash FROM users WHERE email = $1",  # noqa: S608
        email,
    )
    stored = None if row is None else row["password_hash"]
    if not await hasher.verify(stored, password) or row is None:
        raise ApiError(ProblemType.WRONG_CREDENTIALS, _WRONG_CREDENTIALS)
    if hasher.needs_rehash(row["password_hash"]):
        # Parameters were raised since this hash was made: upgrade it while we know the password.
        await pool.execute(
            "UPDATE users SET password_hash = $2, updated_at = now() WHERE user_id = $1",
            row["user_id"],
            await hasher.hash(password),
        )
    return _account(row)


async def start_session(account: Account, tokens: AccessTokens, sessions: Sessions) -> TokenPair:
    refresh = await sessions.start(account.user_id, account.token_version)
    return TokenPair(
        access_token=tokens.issue(account.user_id, account.role),
        refresh_token=refresh,
        expires_in=int(tokens.ttl.total_seconds()),
    )


async def refresh_session(
    pool: asyncpg.Pool, tokens: AccessTokens, sessions: Sessions, refresh_token: str
) -> TokenPair:
    try:
        session, rotated = await sessions.rotate(refresh_token)
    except SessionError as error:
        raise ApiError(
            ProblemType.REFRESH_TOKEN_REJECTED, f"The refresh token cannot be used: {error}."
        ) from error
    account = await get_account(pool, session.user_id)
    if account is None or account.token_version != session.token_version:
        # The password changed (or the account is gone) since this session started.
        await sessions.revoke_family(session.family)
        raise ApiError(
            ProblemType.REFRESH_TOKEN_REJECTED,
            "The session ended when the password changed; sign in again.",
        )
    return TokenPair(
        access_token=tokens.issue(account.user_id, account.role),
        refresh_token=rotated,
        expires_in=int(tokens.ttl.total_seconds()),
    )


async def end_session(sessions: Sessions, refresh_token: str) -> None:
    try:
        await sessions.revoke(refresh_token)
    except SessionError as error:
        raise ApiError(
            ProblemType.REFRESH_TOKEN_REJECTED, f"The refresh token cannot be used: {error}."
        ) from error


async def change_password(
    pool: asyncpg.Pool,
    hasher: PasswordHasher,
    user_id: str,
    current_password: str,
    new_password: str,
) -> Account:
    """Set a new password; every session started before it ends at its next refresh."""
    stored = await pool.fetchval("SELECT password_hash FROM users WHERE user_id = $1", user_id)
    if stored is None:
        raise ApiError(ProblemType.ACCOUNT_NOT_FOUND, "This account no longer exists.")
    if not await hasher.verify(stored, current_password):
        raise ApiError(ProblemType.WRONG_CREDENTIALS, "The current password is wrong.")
    row = await pool.fetchrow(
        f"""
        UPDATE users
           SET password_hash = $2, token_version = token_version + 1, updated_at = now()
         WHERE user_id = $1
        RETURNING {_COLUMNS}, token_version
        """,  # noqa: S608 - only our own column list is interpolated
        user_id,
        await hasher.hash(new_password),
    )
    if row is None:
        raise ApiError(ProblemType.ACCOUNT_NOT_FOUND, "This account no longer exists.")
    log.info("password changed; earlier sessions revoked", user_id=user_id)
    return _account(row)


async def create_admin(
    pool: asyncpg.Pool, hasher: PasswordHasher, email: str, name: str, password: str | None
) -> tuple[Account, bool]:
    """Make ``email`` an admin: promote the account, or create it (``password`` then needed).

    Returns the account and whether it was created.
    """
    row = await pool.fetchrow(
        f"""
        UPDATE users SET role = 'admin', updated_at = now() WHERE email = $1
        RETURNING {_COLUMNS}, token_version
        """,  # noqa: S608 - only our own column list is interpolated
        email,
    )
    if row is not None:
        return _account(row), False
    if password is None:
        raise ValueError(f"no account for {email}; a password is needed to create one")
    created = await register(pool, hasher, email, password, name, role="admin")
    if created is None:  # registered in the meantime: promote that account
        return await create_admin(pool, hasher, email, name, password=None)
    return created, True
