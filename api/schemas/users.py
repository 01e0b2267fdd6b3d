"""Users and their sessions."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Final, Literal, TypeAlias

from pydantic import AfterValidator, ConfigDict, Field

from api.schemas.common import CONTROL, SPACE, CleanStr, Documented, RequestModel, ResponseModel
from api.security import Role


def _normalise_email(value: str) -> str:
    return value.strip().lower()


_ADDRESS_CHAR = rf"[^@{SPACE}{CONTROL}]"
# Deliberately loose: one @, no spaces, a dot in the domain, space around it allowed (and
# stripped). Whether mail arrives is a confirmation email's job, not a pattern's.
EMAIL_PATTERN: Final = rf"^[{SPACE}]*{_ADDRESS_CHAR}+@{_ADDRESS_CHAR}+\.{_ADDRESS_CHAR}+[{SPACE}]*$"
Email: TypeAlias = Annotated[
    CleanStr,
    Field(pattern=EMAIL_PATTERN, max_length=254),
    Documented(EMAIL_PATTERN),
    AfterValidator(_normalise_email),
]
# NIST SP 800-63B: length is what matters; no composition rules, long passphrases welcome.
NewPassword: TypeAlias = Annotated[CleanStr, Field(min_length=12, max_length=128)]
Password: TypeAlias = Annotated[CleanStr, Field(min_length=1, max_length=128)]
RefreshTokenText: TypeAlias = Annotated[CleanStr, Field(min_length=1, max_length=200)]


class UserCreate(RequestModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "email": "ada@example.com",
                    "password": "correct horse battery staple",
                    "name": "Ada Lovelace",
                }
            ]
        }
    )

    email: Email
    password: NewPassword
    name: Annotated[CleanStr, Field(min_length=1, max_length=100)]


class RegistrationAccepted(ResponseModel):
    """The same answer whether the email was new or had an account already."""

    email: str
    detail: str


class UserPublic(ResponseModel):
    user_id: str
    email: str
    name: str
    role: Role
    created_at: datetime


class LoginRequest(RequestModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"email": "ada@example.com", "password": "correct horse battery staple"}]
        }
    )

    email: Email
    password: Password


class RefreshRequest(RequestModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"refresh_token": "3q2-7w.1.Xb5a...signature"}]}
    )

    refresh_token: RefreshTokenText


class LogoutRequest(RefreshRequest):
    pass


class PasswordChange(RequestModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "current_password": "correct horse battery staple",
                    "new_password": "a much longer passphrase than before",
                }
            ]
        }
    )

    current_password: Password
    new_password: NewPassword


class TokenPair(ResponseModel):
    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - a scheme name, not a secret
    expires_in: int = Field(description="Seconds until the access token expires.")
