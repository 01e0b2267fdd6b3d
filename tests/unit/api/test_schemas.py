"""Request models: their published examples are valid, and unknown fields are refused."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from api.schemas.cart import CartLineSet, CartMerge
from api.schemas.notifications import NotificationPreferences
from api.schemas.orders import (
    OrderCancel,
    OrderCreate,
    PaymentRetry,
    ShippingAddressChange,
    looks_like_card_number,
)
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
    NotificationPreferences,
    CartLineSet,
    CartMerge,
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


def _text_fields(value: Any, where: tuple[int | str, ...] = ()) -> list[tuple[int | str, ...]]:
    """Where ``value`` (a JSON document) holds a string, as pydantic names locations."""
    if isinstance(value, str):
        return [where]
    if isinstance(value, dict):
        return [found for key, item in value.items() for found in _text_fields(item, (*where, key))]
    if isinstance(value, list):
        return [
            found
            for index, item in enumerate(value)
            for found in _text_fields(item, (*where, index))
        ]
    return []


def _with(document: Any, where: tuple[int | str, ...], text: str) -> Any:
    if not where:
        return text
    copy = dict(document) if isinstance(document, dict) else list(document)
    copy[where[0]] = _with(document[where[0]], where[1:], text)  # type: ignore[index]
    return copy


@pytest.mark.parametrize("control", ["\x00", "\x07", "\x1b", "\n", "\x7f", "\x85"])
@pytest.mark.parametrize("model", REQUESTS, ids=lambda model: model.__name__)
def test_every_one_line_text_field_refuses_control_characters_by_name(
    model: type[BaseModel], control: str
) -> None:
    for example in model.model_json_schema()["examples"]:
        for where in _text_fields(example):
            if where in {("description",), ("reason",)} and control == "\n":
                continue  # longer texts may hold line breaks (tested below)
            text = _with(example, where, f"a{control}b")
            with pytest.raises(ValidationError) as refused:
                model.model_validate(text)
            assert [error["loc"] for error in refused.value.errors()] == [where], where


def test_descriptions_and_reasons_may_hold_line_breaks_but_no_other_control() -> None:
    product = ProductCreate.model_json_schema()["examples"][0]
    assert ProductCreate.model_validate({**product, "description": "Glazed.\r\n\tTwice."})
    assert OrderCancel(reason="wrong size\nand colour").reason == "wrong size\nand colour"
    with pytest.raises(ValidationError, match="control characters"):
        OrderCancel(reason="wrong\x1b[2Jsize")


def test_a_control_character_is_named_with_its_position() -> None:
    with pytest.raises(ValidationError, match=r"U\+0000 NUL at position 3"):
        LoginRequest(email="ada\x00@example.com", password="x")


@pytest.mark.parametrize(
    "token",
    [
        "4242424242424242",
        "4242 4242 4242 4242",
        "4000-0566-5566-5556",
        "378282246310005",
        "6011111111111117",
        "3530111333300000",
        "4222222222222",
    ],
)
def test_a_card_number_is_refused_as_a_payment_token(token: str) -> None:
    assert looks_like_card_number(token)
    order = OrderCreate.model_json_schema()["examples"][0]
    for model, body in ((OrderCreate, order), (PaymentRetry, {})):
        with pytest.raises(ValidationError, match="never a card number") as refused:
            model.model_validate({**body, "payment_token": token})
        assert refused.value.errors()[0]["loc"] == ("payment_token",)
        assert token not in str(refused.value.errors()[0]["msg"])


@pytest.mark.parametrize(
    "token",
    [
        "tok_visa",
        "pm_card_visa",
        "4242424242424241",
        "12345678901",
        "42424242424242424242",
        "tok_4242424242424242",
    ],
)
def test_provider_tokens_and_numbers_failing_luhn_are_not_card_numbers(token: str) -> None:
    assert not looks_like_card_number(token)
    assert PaymentRetry(payment_token=token).payment_token == token
