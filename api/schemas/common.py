"""What every schema module shares: the request base, identifiers and paging limits."""

from __future__ import annotations

import unicodedata
from typing import Annotated, Final, TypeAlias

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

_LINE_BREAKS: Final = frozenset("\t\n\r")


def _control_character(value: str, allowed: frozenset[str]) -> str | None:
    """Where ``value`` holds a control character (Unicode Cc) outside ``allowed``, and which."""
    for index, char in enumerate(value):
        if char not in allowed and unicodedata.category(char) == "Cc":
            name = " NUL" if char == "\x00" else ""
            return f"U+{ord(char):04X}{name} at position {index}"
    return None


def _storable(value: str, allowed: frozenset[str]) -> str:
    # PostgreSQL text cannot hold NUL, and a lone surrogate cannot be encoded as UTF-8: either
    # would fail deep inside a query (a 500) rather than here (a 422 that names the field).
    # Other control characters would be stored, sent on in events and break whoever renders
    # them later (a projection, a label printer, a terminal): refused here as well.
    if found := _control_character(value, allowed):
        raise ValueError(f"must not contain control characters or NUL (found {found})")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode text (no lone surrogates)") from None
    return value


def _one_line(value: str) -> str:
    return _storable(value, frozenset())


def _paragraphs(value: str) -> str:
    return _storable(value, _LINE_BREAKS)


# Every free-text field of a request is one of these: a name, an address line, a token or a
# password holds no control character at all; a longer text (a description, a reason) may hold
# tabs and line breaks, and nothing else of that kind.
CleanStr: TypeAlias = Annotated[str, AfterValidator(_one_line)]
CleanText: TypeAlias = Annotated[str, AfterValidator(_paragraphs)]

# Page sizes are capped: a client cannot ask the database for everything at once.
MAX_PAGE_SIZE: Final = 100
DEFAULT_PAGE_SIZE: Final = 20

# Letters, digits and ._- only: a SKU appears in URLs, S3 keys and Kafka keys.
SKU_PATTERN: Final = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
Sku: TypeAlias = Annotated[str, Field(pattern=SKU_PATTERN, examples=["MUG-01"])]
# The contract's ids: no whitespace, at most 100 characters.
OrderId: TypeAlias = Annotated[str, Field(pattern=r"^\S+$", max_length=100)]
Cents: TypeAlias = Annotated[int, Field(ge=0, le=1_000_000_000)]
Currency: TypeAlias = Annotated[str, Field(pattern=r"^[A-Z]{3}$", examples=["EUR"])]


class RequestModel(BaseModel):
    """Strict about unknown fields: a field the server sets or does not know is refused."""

    model_config = ConfigDict(extra="forbid")


class ResponseModel(BaseModel):
    pass
