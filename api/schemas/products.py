"""The catalog: products, their images and their stock."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Self, TypeAlias

from pydantic import ConfigDict, Field, model_validator

from api.schemas.common import (
    JSON_INTEGER,
    Cents,
    CleanStr,
    CleanText,
    Currency,
    RequestModel,
    ResponseModel,
    Sku,
)

Name: TypeAlias = Annotated[CleanStr, Field(min_length=1, max_length=200)]
Description: TypeAlias = Annotated[CleanText, Field(max_length=5000)]
Category: TypeAlias = Annotated[
    str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,49}$", examples=["kitchen"])
]


class ProductSort(StrEnum):
    RELEVANCE = "relevance"  # by full-text rank when searching, else as "newest"
    NEWEST = "newest"
    PRICE = "price"
    PRICE_DESC = "-price"
    NAME = "name"
    NAME_DESC = "-name"


class ProductCreate(RequestModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "sku": "MUG-01",
                    "name": "Stoneware mug",
                    "description": "A 350 ml mug, glazed inside and out.",
                    "category": "kitchen",
                    "price_cents": 1299,
                    "currency": "EUR",
                }
            ]
        }
    )

    sku: Sku
    name: Name
    description: Description = ""
    category: Category
    price_cents: Cents
    currency: Currency | None = Field(default=None, description="Defaults to the shop's currency.")


class ProductUpdate(RequestModel):
    """Absent (or null) fields stay as they are; at least one must be given."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"price_cents": 1499}, {"name": "Large stoneware mug"}],
            # What _something_to_change checks, said in the document.
            "anyOf": [
                {"required": [field], "properties": {field: {"not": {"type": "null"}}}}
                for field in ("name", "description", "category", "price_cents", "currency")
            ],
        }
    )

    name: Name | None = None
    description: Description | None = None
    category: Category | None = None
    price_cents: Cents | None = None
    currency: Currency | None = None

    @model_validator(mode="after")
    def _something_to_change(self) -> Self:
        if not self.changes():
            raise ValueError("give at least one field to change")
        return self

    def changes(self) -> dict[str, object]:
        return {name: value for name, value in self.model_dump().items() if value is not None}


class StockAdjustment(RequestModel):
    """Exactly one of ``delta`` (a correction: received, damaged, ...) or ``set_to`` (a count)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"set_to": 25}, {"delta": -2}],
            # What _exactly_one checks, said in the document.
            "oneOf": [
                {"required": [field], "properties": {field: {"type": "integer"}}}
                for field in ("delta", "set_to")
            ],
        }
    )

    delta: Annotated[int, Field(ge=-1_000_000, le=1_000_000), JSON_INTEGER] | None = None
    set_to: Annotated[int, Field(ge=0, le=1_000_000), JSON_INTEGER] | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Self:
        if (self.delta is None) == (self.set_to is None):
            raise ValueError("give exactly one of delta or set_to")
        return self


class StockPublic(ResponseModel):
    """From the inventory's read model; a SKU it has never counted has nothing in stock."""

    on_hand: int
    reserved: int
    available: int
    in_stock: bool


class ImagePublic(ResponseModel):
    image_id: str
    url: str
    content_type: str
    size_bytes: int


class ProductPublic(ResponseModel):
    sku: str
    name: str
    description: str
    category: str
    price_cents: int
    currency: str
    stock: StockPublic
    images: list[ImagePublic]
    created_at: datetime
    updated_at: datetime


class ProductPage(ResponseModel):
    items: list[ProductPublic]
    total: int = Field(description="Products matching the filters, on all pages.")
    page: int
    page_size: int


class StockAdjustmentAccepted(ResponseModel):
    sku: str
    detail: str
