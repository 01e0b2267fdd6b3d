"""Orders: placing one, reading them, and asking the saga to cancel or retry payment."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Final, Literal, TypeAlias

from pydantic import AfterValidator, ConfigDict, Field
from pydantic.config import JsonDict

from api.schemas.common import JSON_INTEGER, CleanStr, CleanText, RequestModel, ResponseModel, Sku
from streams.contract import Address, OrderStatus

Line: TypeAlias = Annotated[CleanStr, Field(min_length=1, max_length=200)]

# What a card number may look like in a token field: 12-19 digits, maybe grouped by spaces or
# dashes as printed on the card.
_CARD_SEPARATORS: Final = str.maketrans("", "", " -")


def luhn_valid(digits: str) -> bool:
    """Whether a string of ASCII digits passes the Luhn check that every card number passes."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def looks_like_card_number(value: str) -> bool:
    digits = value.translate(_CARD_SEPARATORS)
    return 12 <= len(digits) <= 19 and digits.isascii() and digits.isdigit() and luhn_valid(digits)


def _not_a_card_number(value: str) -> str:
    # A raw card number must never reach our logs, Kafka or the database: PCI DSS scope would
    # then be the whole platform. The browser hands the card to the provider and sends its token.
    if looks_like_card_number(value):
        raise ValueError("looks like a card number: send a provider token, never a card number")
    return value


PaymentToken: TypeAlias = Annotated[
    CleanStr,
    Field(
        min_length=1,
        max_length=200,
        examples=["tok_visa"],
        description="The payment provider's token for the card; a card number is refused.",
    ),
    AfterValidator(_not_a_card_number),
]

_ADDRESS_EXAMPLE: JsonDict = {
    "name": "Ada Lovelace",
    "line1": "12 St James's Square",
    "line2": "Second floor",
    "city": "London",
    "postal_code": "SW1Y 4JH",
    "country": "GB",
}


class ShippingAddress(RequestModel):
    name: Line
    line1: Line
    line2: Line | None = None
    city: Line
    postal_code: Annotated[CleanStr, Field(min_length=1, max_length=20)]
    country: Annotated[str, Field(pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2")]

    def to_contract(self) -> Address:
        return Address.model_validate(self.model_dump())


class OrderLineCreate(RequestModel):
    sku: Sku
    quantity: Annotated[int, Field(ge=1, le=100), JSON_INTEGER]


def _unique_skus(lines: list[OrderLineCreate]) -> list[OrderLineCreate]:
    skus = [line.sku for line in lines]
    if len(set(skus)) != len(skus):
        raise ValueError("each sku may appear on one line only")
    return lines


class OrderCreate(RequestModel):
    """What the customer chooses. Prices and totals come from the catalog, never from here."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "lines": [{"sku": "MUG-01", "quantity": 2}],
                    "shipping_address": _ADDRESS_EXAMPLE,
                    "payment_token": "tok_visa",
                }
            ]
        }
    )

    lines: Annotated[
        list[OrderLineCreate],
        # Said in words: JSON Schema's uniqueItems compares whole lines, not their SKUs.
        Field(min_length=1, max_length=50, description="Each SKU on one line only."),
        AfterValidator(_unique_skus),
    ]
    shipping_address: ShippingAddress
    payment_token: PaymentToken


class OrderCancel(RequestModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"reason": "ordered by mistake"}]})

    reason: Annotated[CleanText, Field(min_length=1, max_length=500)] | None = None


class PaymentRetry(RequestModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"payment_token": "tok_visa"}]})

    payment_token: PaymentToken


class ShippingAddressChange(RequestModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"shipping_address": _ADDRESS_EXAMPLE}]}
    )

    shipping_address: ShippingAddress


class OrderLinePublic(ResponseModel):
    sku: str
    quantity: int
    unit_price_cents: int
    subtotal_cents: int


class AddressPublic(ResponseModel):
    name: str
    line1: str
    line2: str | None
    city: str
    postal_code: str
    country: str


class OrderAccepted(ResponseModel):
    """The order as placed; the saga takes it from here (follow ``Location``)."""

    order_id: str
    status: OrderStatus
    lines: list[OrderLinePublic]
    total_cents: int
    currency: str
    shipping_address: AddressPublic


class OrderSummaryPublic(ResponseModel):
    order_id: str
    user_id: str
    status: OrderStatus
    status_reason: str | None
    total_cents: int
    currency: str
    tracking_number: str | None
    created_at: datetime
    updated_at: datetime


class OrderPublic(OrderSummaryPublic):
    lines: list[OrderLinePublic]
    shipping_address: AddressPublic
    paid_cents: int
    refunded_cents: int
    refund_status: Literal["requested", "refunded", "failed"] | None = Field(
        description="Where the order's refunds stand: `requested` while one is under way, "
        "`refunded` once every one is made, `failed` if one was not made (support is on it); "
        "null if nothing was to be refunded."
    )
    refund_failure_reason: str | None = Field(
        description="Why the refund failed, while `refund_status` is `failed`."
    )


class OrderPage(ResponseModel):
    items: list[OrderSummaryPublic]
    next_before: str | None = Field(
        description="Pass as `before` for the next page; null on the last page."
    )


class OrderEventPublic(ResponseModel):
    event_id: str
    type: str
    occurred_at: datetime
    trace_id: str = Field(description="The trace of the request or process that caused it.")
    summary: dict[str, str | int | bool]


class OrderTimeline(ResponseModel):
    order_id: str
    events: list[OrderEventPublic]


class OrderCommandAccepted(ResponseModel):
    order_id: str
    detail: str
