"""What every schema module shares: the request base, identifiers and paging limits."""

from __future__ import annotations

from typing import Annotated, Final, TypeAlias

from pydantic import AfterValidator, BaseModel, ConfigDict, Field


def _storable(value: str) -> str:
    # PostgreSQL text cannot hold NUL, and a lone surrogate cannot be encoded as UTF-8: either
    # would fail deep inside a query (a 500) rather than here (a 422 that names the field).
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode text (no lone surrogates)") from None
    return value


# Every free-text field of a request is one of these.
CleanStr: TypeAlias = Annotated[str, AfterValidator(_storable)]

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
