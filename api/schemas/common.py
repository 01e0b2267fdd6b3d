"""What every schema module shares: the request base, identifiers and paging limits."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Final, TypeAlias

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetJsonSchemaHandler,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

from streams import contract

__all__ = [
    "DEFAULT_PAGE_SIZE",
    "JSON_INTEGER",
    "MAX_PAGE_SIZE",
    "SKU_PATTERN",
    "Cents",
    "CleanStr",
    "CleanText",
    "Currency",
    "DateTimeText",
    "Documented",
    "IdText",
    "OrderId",
    "RequestModel",
    "ResponseModel",
    "Sku",
]


@dataclass(frozen=True)
class Documented:
    """What a string's validators accept, said in the JSON Schema as its ``pattern``; it checks
    nothing itself (the validators do).

    JSON Schema cannot see a validator, and pydantic leaves a ``pattern`` out of it when the
    pattern follows one (as on the contract's text types): without this the OpenAPI document
    would promise more than the gateway takes, and clients would learn the rules from 422s.
    """

    pattern: str

    def __get_pydantic_json_schema__(
        self, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return {**handler(core_schema), "pattern": self.pattern}


# Unicode's control characters (category Cc), and its white space (the White_Space property)
# that is none of them, spelled out: the engines that read the document's patterns (pydantic's,
# a client's, a fuzzer's) differ on what \s means.
CONTROL: Final = r"\x00-\x1f\x7f-\x9f"
SPACE: Final = r" \xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
# What the contract's text types take: no control character, or none but tabs and line breaks.
ONE_LINE_PATTERN: Final = rf"^[^{CONTROL}]*$"
PARAGRAPHS_PATTERN: Final = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*$"
# One line without white space: an id, as the contract's Id takes it.
NO_SPACE_PATTERN: Final = rf"^[^{SPACE}{CONTROL}]+$"

# Every free-text field of a request is one of these, the contract's own, so that what a
# gateway accepts the agents accept too: a name, an address line, a token or a password holds
# no control character at all; a longer text (a description, a reason) may hold tabs and line
# breaks, and nothing else of that kind.
CleanStr: TypeAlias = Annotated[contract.CleanStr, Documented(ONE_LINE_PATTERN)]
CleanText: TypeAlias = Annotated[contract.CleanText, Documented(PARAGRAPHS_PATTERN)]
# Someone else's id given to the gateway (a user's, in an admin's filter).
IdText: TypeAlias = Annotated[
    CleanStr, Field(pattern=NO_SPACE_PATTERN, max_length=100), Documented(NO_SPACE_PATTERN)
]


def _json_integer(value: object) -> object:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


# An int of a request takes what JSON Schema calls an integer, 2.0 too (a request model, being
# strict, would refuse it); a boolean or a text is none. Last in the int's Annotated: pydantic
# leaves the constraints before a validator out of the JSON Schema.
JSON_INTEGER: Final = BeforeValidator(_json_integer)

# Page sizes are capped: a client cannot ask the database for everything at once.
MAX_PAGE_SIZE: Final = 100
DEFAULT_PAGE_SIZE: Final = 20

# Letters, digits and ._- only: a SKU appears in URLs, S3 keys and Kafka keys.
SKU_PATTERN: Final = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
Sku: TypeAlias = Annotated[str, Field(pattern=SKU_PATTERN, examples=["MUG-01"])]
# The contract's ids: no whitespace, at most 100 characters.
OrderId: TypeAlias = Annotated[str, Field(pattern=r"^\S+$", max_length=100)]
Cents: TypeAlias = Annotated[int, Field(ge=0, le=1_000_000_000), JSON_INTEGER]
Currency: TypeAlias = Annotated[str, Field(pattern=r"^[A-Z]{3}$", examples=["EUR"])]


# RFC 3339's date and time, as the document's date-time format says: pydantic would also read
# "1700000000" or "0.5" as a Unix time.
_DATE_TIME_START: Final = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt]")


def _rfc3339_text(value: object) -> object:
    if isinstance(value, str) and _DATE_TIME_START.match(value) is None:
        raise ValueError("must be an RFC 3339 date-time, e.g. 2026-01-31T09:30:00Z")
    return value


# A date-time given as text (a query parameter): RFC 3339, with its offset.
DateTimeText: TypeAlias = Annotated[AwareDatetime, BeforeValidator(_rfc3339_text)]


class RequestModel(BaseModel):
    """Strict about unknown fields (a field the server sets or does not know is refused) and
    about types: a value must be of the JSON type the document gives, so "5" or false is no
    number and 1 is no boolean (pydantic would otherwise convert them)."""

    model_config = ConfigDict(extra="forbid", strict=True)


class ResponseModel(BaseModel):
    pass
