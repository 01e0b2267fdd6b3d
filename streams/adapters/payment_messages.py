"""The payment function's wire contract: the JSON it is asked with and the JSON it answers.

Both sides use these models: the function (``payment_function``, deployed to Lambda) parses
requests and writes answers with them, and the invokers build requests and parse answers with
them, so the two cannot drift apart. Field types come from the event contract, so a request
the function accepts always maps back onto a valid event.

Requests are strict (exact JSON types, unknown fields refused): a bad request is our bug and
must fail loudly. Answers ignore unknown fields, so a newer function can add some without
breaking older invokers.

An answer is one of: ``succeeded`` (a charge's ``payment_id`` or a refund's ``refund_id``),
``failed`` (the provider refused the card: one of the contract's failure codes), or
``invalid`` (the request itself was wrong; nothing was charged or refunded).

A ``lookup`` asks what became of a charge, by its idempotency key (and the order and attempt
it was made for), and never charges: it is answered like the charge was (``succeeded`` or
``failed``), or ``not_found`` when the provider knows of no such charge.
"""

from typing import Annotated, Literal, Self, TypeAlias

from pydantic import BaseModel, ConfigDict, Field, NonNegativeInt, PositiveInt

from streams.contract import (
    Currency,
    FailureCode,
    Id,
    Line,
    PaymentRequested,
    RefundRequested,
    Text,
)

# Stripe accepts idempotency keys of up to 255 characters; ours are far shorter.
IdempotencyKey: TypeAlias = Annotated[str, Field(min_length=1, max_length=255)]


class _Request(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)


class _Answer(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class ChargeRequest(_Request):
    action: Literal["charge"] = "charge"
    order_id: Id
    attempt: PositiveInt
    amount_cents: NonNegativeInt
    currency: Currency
    payment_token: Line
    idempotency_key: IdempotencyKey

    @classmethod
    def of(cls, command: PaymentRequested, idempotency_key: str) -> Self:
        return cls(
            order_id=command.order_id,
            attempt=command.attempt,
            amount_cents=command.amount_cents,
            currency=command.currency,
            payment_token=command.payment_token,
            idempotency_key=idempotency_key,
        )


class RefundRequest(_Request):
    action: Literal["refund"] = "refund"
    order_id: Id
    payment_id: Id
    amount_cents: PositiveInt  # less than the payment's amount: a partial refund
    currency: Currency
    idempotency_key: IdempotencyKey
    reason: Text

    @classmethod
    def of(cls, command: RefundRequested, idempotency_key: str) -> Self:
        return cls(
            order_id=command.order_id,
            payment_id=command.payment_id,
            amount_cents=command.amount_cents,
            currency=command.currency,
            idempotency_key=idempotency_key,
            reason=command.reason,
        )


class LookupRequest(_Request):
    action: Literal["lookup"] = "lookup"
    order_id: Id
    attempt: PositiveInt
    idempotency_key: IdempotencyKey

    @classmethod
    def of(cls, command: PaymentRequested, idempotency_key: str) -> Self:
        return cls(
            order_id=command.order_id, attempt=command.attempt, idempotency_key=idempotency_key
        )


class Charged(_Answer):
    status: Literal["succeeded"] = "succeeded"
    payment_id: Id
    amount_cents: NonNegativeInt
    currency: Currency


class Refunded(_Answer):
    status: Literal["succeeded"] = "succeeded"
    refund_id: Id
    payment_id: Id
    amount_cents: PositiveInt
    currency: Currency


class Failed(_Answer):
    """The provider refused; ``retryable``: asking again (same key) may succeed."""

    status: Literal["failed"] = "failed"
    code: FailureCode
    message: Text  # Text, because it travels on in PaymentFailed.message
    retryable: bool


class NotFound(_Answer):
    """The provider knows of no charge under the key: none was made, as far as it can tell."""

    status: Literal["not_found"] = "not_found"


class Invalid(_Answer):
    """The request was wrong; nothing happened at the provider."""

    status: Literal["invalid"] = "invalid"
    message: str


PaymentFunctionRequest: TypeAlias = Annotated[
    ChargeRequest | RefundRequest | LookupRequest, Field(discriminator="action")
]
ChargeAnswer: TypeAlias = Annotated[Charged | Failed | Invalid, Field(discriminator="status")]
RefundAnswer: TypeAlias = Annotated[Refunded | Failed | Invalid, Field(discriminator="status")]
LookupAnswer: TypeAlias = Annotated[
    Charged | Failed | NotFound | Invalid, Field(discriminator="status")
]
