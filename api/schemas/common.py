"""What every schema module shares: the request base, identifiers and paging limits."""

from __future__ import annotations

from typing import Annotated, Final, TypeAlias

from pydantic import BaseModel, ConfigDict, Field

# Every free-text field of a request is one of these, the contract's own, so that what a
# gateway accepts the agents accept too: a name, an address line, a token or a password holds
# no control character at all; a longer text (a description, a reason) may hold tabs and line
# breaks, and nothing else of that kind.
from streams.contract import CleanStr, CleanText

__all__ = [
    "DEFAULT_PAGE_SIZE",
    "MAX_PAGE_SIZE",
    "SKU_PATTERN",
    "Cents",
    "CleanStr",
    "CleanText",
    "Currency",
    "OrderId",
    "RequestModel",
    "ResponseModel",
    "Sku",
]

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
