"""The customer's cart: lines of SKUs and quantities, kept by the gateway per user."""

from __future__ import annotations

from typing import Annotated

from pydantic import ConfigDict, Field

from api.schemas.common import JSON_INTEGER, RequestModel, ResponseModel, Sku

Quantity = Annotated[int, Field(ge=1, le=100), JSON_INTEGER]


class CartLineSet(RequestModel):
    """How many of the SKU the cart holds from now on (capped by what is in stock)."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"quantity": 2}]})

    quantity: Quantity


class CartLineAdd(RequestModel):
    sku: Sku
    quantity: Quantity


class CartMerge(RequestModel):
    """A guest's cart, kept in the browser until sign-in, added to the account's cart."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"lines": [{"sku": "MUG-01", "quantity": 1}]}]}
    )

    lines: Annotated[list[CartLineAdd], Field(max_length=100)]


class CartLinePublic(ResponseModel):
    sku: str
    name: str
    quantity: int
    unit_price_cents: int
    subtotal_cents: int
    currency: str
    available: int = Field(description="What the inventory can sell now.")
    problem: str | None = Field(
        description="Why this line cannot be ordered as it is (sold out, fewer left); "
        "null when it can."
    )


class CartPublic(ResponseModel):
    lines: list[CartLinePublic]
    total_cents: int
    currency: str
    orderable: bool = Field(description="Whether every line can be ordered as it is.")
    notices: list[str] = Field(
        default_factory=list,
        description="What this request changed beyond what was asked (quantities capped).",
    )
