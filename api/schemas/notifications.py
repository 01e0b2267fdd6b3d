"""A customer's notification preferences: which channels, and where; and the codes that
verify the addresses (e-mail and SMS go only to verified ones)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Self, TypeAlias

from pydantic import AfterValidator, ConfigDict, Field, model_validator

from api.address_codes import CODE_PATTERN, VerifiedChannel
from api.problems import Problem
from api.schemas.common import CleanStr, Documented, RequestModel, ResponseModel
from api.schemas.users import Email
from streams.domain.notifications import E164, invalid_phone


def _e164(value: str) -> str:
    if reason := invalid_phone(value):
        raise ValueError(reason)
    return value


Phone: TypeAlias = Annotated[
    CleanStr,
    Field(max_length=16, examples=["+4915112345678"]),
    AfterValidator(_e164),
    Documented(E164.pattern),
]


class NotificationPreferences(RequestModel):
    """The whole set: PUT replaces it. E-mail and push are on, SMS off, until chosen."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"email": True, "sms": True, "push": False, "phone": "+4915112345678"}],
            # What _sms_needs_a_phone checks, said in the document.
            "if": {"required": ["sms"], "properties": {"sms": {"const": True}}},
            "then": {"required": ["phone"], "properties": {"phone": {"type": "string"}}},
        },
    )

    email: bool = True
    sms: bool = False
    push: bool = True
    phone: Phone | None = None
    # Where notification e-mail goes; unset: the account's address.
    email_address: Email | None = None

    @model_validator(mode="after")
    def _sms_needs_a_phone(self) -> Self:
        if self.sms and self.phone is None:
            raise ValueError("sms needs a phone number: give phone in E.164 form")
        return self


class NotificationPreferencesPublic(ResponseModel):
    email: bool
    sms: bool
    push: bool
    phone: str | None
    email_address: str | None
    email_verified: bool = Field(
        description="Whether the address e-mail goes to (email_address, or the account's when "
        "unset) is confirmed by a code: e-mail is sent only then"
    )
    phone_verified: bool = Field(
        description="Whether the phone number is confirmed by a code: SMS is sent only then"
    )
    awaiting_code: list[VerifiedChannel] = Field(
        description="The channels a code was sent to that has not been typed in yet "
        "(POST /users/me/notification-preferences/verify)"
    )


class VerificationCodeRequest(RequestModel):
    """Send a new code to the channel's address (the one the preferences name)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"channel": "sms"}]})

    channel: VerifiedChannel


class VerificationCodeSent(ResponseModel):
    channel: VerifiedChannel
    address: str = Field(description="Where the code went")
    expires_at: datetime = Field(description="When the code stops being accepted")


Code: TypeAlias = Annotated[str, Field(pattern=CODE_PATTERN, examples=["042917"])]


class AddressVerification(RequestModel):
    """The code sent to the channel's address, typed back."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"channel": "sms", "code": "042917"}]}
    )

    channel: VerifiedChannel
    code: Code


class CodeRefusedProblem(Problem):
    """A code refused: wrong (``tries_left`` says how many more this code may take), expired,
    or not valid at all (``errors``, as every invalid request)."""

    tries_left: int | None = Field(
        default=None, description="wrong-code: how many more tries this code takes (0: spent)"
    )
