"""Request models: their published examples are valid, and unknown fields are refused."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from api.schemas.orders import OrderCancel, OrderCreate, PaymentRetry, ShippingAddressChange
from api.schemas.products import ProductCreate, ProductUpdate, StockAdjustment
from api.schemas.users import LoginRequest, PasswordChange, RefreshRequest, UserCreate

REQUESTS: list[type[BaseModel]] = [
    UserCreate,
    LoginRequest,
    RefreshRequest,
    PasswordChange,
    ProductCreate,
    ProductUpdate,
    StockAdjustment,
    OrderCreate,
    OrderCancel,
    PaymentRetry,
    ShippingAddressChange,
]


@pytest.mark.parametrize("model", REQUESTS, ids=lambda model: model.__name__)
def test_every_request_model_publishes_examples_it_accepts(model: type[BaseModel]) -> None:
    examples: list[dict[str, Any]] = model.model_json_schema()["examples"]
    assert examples
    for example in examples:
        model.model_validate(example)


@pytest.mark.parametrize("model", REQUESTS, ids=lambda model: model.__name__)
def test_every_request_model_refuses_fields_it_does_not_know(model: type[BaseModel]) -> None:
    example = model.model_json_schema()["examples"][0]
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        model.model_validate({**example, "status": "paid"})


def test_an_email_is_trimmed_and_lower_cased() -> None:
    login = LoginRequest(email="  Ada@Example.COM ", password="x")
    assert login.email == "ada@example.com"


def test_an_order_names_each_sku_once() -> None:
    example = OrderCreate.model_json_schema()["examples"][0]
    doubled = {**example, "lines": [{"sku": "A", "quantity": 1}, {"sku": "A", "quantity": 2}]}
    with pytest.raises(ValidationError, match="each sku may appear on one line only"):
        OrderCreate.model_validate(doubled)


def test_a_product_update_changes_something() -> None:
    with pytest.raises(ValidationError, match="at least one field"):
        ProductUpdate.model_validate({"name": None})
    assert ProductUpdate(price_cents=5).changes() == {"price_cents": 5}


@pytest.mark.parametrize("body", [{}, {"delta": 1, "set_to": 1}])
def test_a_stock_adjustment_is_a_delta_or_a_count(body: dict[str, int]) -> None:
    with pytest.raises(ValidationError, match="exactly one"):
        StockAdjustment.model_validate(body)


@pytest.mark.parametrize("text", ["Ada\x00Lovelace", "Ada \ud800"], ids=["NUL", "lone surrogate"])
def test_text_a_database_cannot_store_is_refused_by_name(text: str) -> None:
    example = UserCreate.model_json_schema()["examples"][0]
    with pytest.raises(ValidationError) as refused:
        UserCreate.model_validate({**example, "name": text})
    assert refused.value.errors()[0]["loc"] == ("name",)
