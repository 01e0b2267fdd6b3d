"""A customer's notification preferences: which channels, and where."""

from __future__ import annotations

from typing import Annotated, Self, TypeAlias

from pydantic import AfterValidator, ConfigDict, Field, model_validator

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
