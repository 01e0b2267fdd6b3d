"""The Stripe provider: the payment function's charges and refunds on Stripe, via its SDK.

The SDK (``stripe``) is imported inside each call, so everything else works without it; the
function is packaged with it by ``build_package(dest, with_stripe=True)``.

Every request carries our idempotency key, so asking again after a timeout or a crash cannot
charge twice: Stripe replays its first answer for a key, for 24 hours. That replay includes
card errors, so retrying a ``processing_error`` under the same key gets the same error back;
only a new attempt (a new key) asks the card network again.

A lookup (what became of a charge whose answer was lost) searches the PaymentIntents by the
metadata every charge carries (order and attempt): Stripe's documented way to find objects by
metadata. Search is not read-after-write consistent (new objects show within about a minute,
up to an hour behind during Stripe's outages), so a charge not found is only taken as never
made well after it was asked for (``ReconciliationPolicy.settle_s``); within Stripe's 24 hours
of idempotency a charge asked again under its key is replayed anyway, never made twice.

What Stripe answers becomes one of our answers:
    - a CardError: ``failed``, with Stripe's code (or decline code) mapped onto ours;
    - a request Stripe refuses (InvalidRequestError, IdempotencyError): ``invalid``, except
      an unusable payment method, which is the customer's problem: ``card_declined``;
    - anything else (network, rate limit, Stripe's own errors, authentication) is raised: the
      outcome is unknown, and the invoker asks again with the same key.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from streams.adapters.payment_messages import (
    Charged,
    ChargeRequest,
    Failed,
    Invalid,
    LookupRequest,
    NotFound,
    Refunded,
    RefundRequest,
)

if TYPE_CHECKING:
    import stripe  # type: ignore[import-not-found,unused-ignore]

SDK_REQUIREMENT: Final = "stripe==16.1.0"

_DECLINED: Final = "Your card was declined."
_MAX_MESSAGE: Final = 1000  # PaymentFailed.message's limit
_MAX_METADATA_VALUE: Final = 500  # Stripe's limit on one metadata value
# A PaymentIntent in one of these has not settled yet: neither charged nor failed.
_UNSETTLED: Final = frozenset(
    {"processing", "requires_action", "requires_confirmation", "requires_capture"}
)


class StripeProvider:
    def __init__(self, api_key: str) -> None:
        # Passed with every request rather than set on the module: stripe.api_key is global.
        self._api_key = api_key

    def charge(self, request: ChargeRequest) -> Charged | Failed | Invalid:
        try:
            import stripe  # type: ignore[import-not-found,unused-ignore]
        except ImportError as error:
            raise _missing_sdk() from error
        if request.payment_token.replace(" ", "").isdigit():
            # Raw card numbers are test cards of the simulation; they must never reach an API.
            return Failed(
                code="card_declined",
                message="Stripe needs a card token or PaymentMethod id, not a card number.",
                retryable=False,
            )
        try:
            intent = stripe.PaymentIntent.create(
                api_key=self._api_key,
                idempotency_key=request.idempotency_key,
                amount=request.amount_cents,
                currency=request.currency.lower(),
                confirm=True,
                automatic_payment_methods={"enabled": True, "allow_redirects": "never"},
                # No customer is present to authenticate (3-D Secure): fail instead of waiting.
                error_on_requires_action=True,
                metadata={"order_id": request.order_id, "attempt": str(request.attempt)},
                **_payment_method(request.payment_token),
            )
        except stripe.CardError as error:
            return card_failure(error)
        except stripe.InvalidRequestError as error:
            if str(error.param or "").startswith("payment_method"):
                return Failed(code="card_declined", message=_message(error), retryable=False)
            return Invalid(message=_message(error))
        except stripe.IdempotencyError as error:
            return Invalid(message=_message(error))
        if intent.status != "succeeded":
            # Card payments confirmed as above either succeed or raise; anything else (an
            # asynchronous "processing") is an outcome we cannot report yet.
            raise RuntimeError(f"PaymentIntent {intent.id} is {intent.status!r}, not succeeded")
        return Charged(
            payment_id=intent.id, amount_cents=intent.amount, currency=intent.currency.upper()
        )

    def refund(self, request: RefundRequest) -> Refunded | Failed | Invalid:
        try:
            import stripe  # type: ignore[import-not-found,unused-ignore]
        except ImportError as error:
            raise _missing_sdk() from error
        try:
            refund = stripe.Refund.create(
                api_key=self._api_key,
                idempotency_key=request.idempotency_key,
                payment_intent=request.payment_id,
                amount=request.amount_cents,
                # Stripe's own ``reason`` is an enum; ours is free text.
                metadata={
                    "order_id": request.order_id,
                    "reason": request.reason[:_MAX_METADATA_VALUE],
                },
            )
        except (stripe.InvalidRequestError, stripe.IdempotencyError) as error:
            return Invalid(message=_message(error))
        if refund.status in ("failed", "canceled"):
            return Failed(
                code="processing_error",
                message=f"Stripe refund {refund.id} {refund.status}: {refund.failure_reason}",
                retryable=False,
            )
        # "pending" is accepted too: Stripe has taken the refund and completes it on its own.
        return Refunded(
            refund_id=refund.id,
            payment_id=request.payment_id,
            amount_cents=refund.amount,
            currency=refund.currency.upper(),
        )

    def lookup(self, request: LookupRequest) -> Charged | Failed | NotFound | Invalid:
        try:
            import stripe  # type: ignore[import-not-found,unused-ignore]
        except ImportError as error:
            raise _missing_sdk() from error
        query = (
            f"metadata['order_id']:'{_quoted(request.order_id)}' AND "
            f"metadata['attempt']:'{request.attempt}'"
        )
        try:
            found = stripe.PaymentIntent.search(api_key=self._api_key, query=query, limit=10)
        except stripe.InvalidRequestError as error:
            return Invalid(message=_message(error))
        intents = list(found.data)
        if not intents:
            return NotFound()
        for intent in intents:
            if intent.status == "succeeded":
                return Charged(
                    payment_id=intent.id,
                    amount_cents=intent.amount,
                    currency=intent.currency.upper(),
                )
        for intent in intents:
            if intent.status in _UNSETTLED:
                # Raised, as an unknown outcome: the agent looks again later.
                raise RuntimeError(f"PaymentIntent {intent.id} is {intent.status!r}, not settled")
        return intent_failure(intents[0])


def intent_failure(intent: stripe.PaymentIntent) -> Failed:
    """Our failure for a PaymentIntent whose confirmation failed (``requires_payment_method``
    with its ``last_payment_error``) or that was cancelled."""
    error = intent.last_payment_error
    if error is None:
        return Failed(code="card_declined", message=_DECLINED, retryable=False)
    message = (error.message or _DECLINED)[:_MAX_MESSAGE]
    return _failure({error.code, error.decline_code}, message)


def card_failure(error: stripe.CardError) -> Failed:
    """Our failure for Stripe's CardError. Insufficient funds arrives as ``card_declined``
    with decline code ``insufficient_funds``; a processing error as its own code."""
    decline_code = error.error.decline_code if error.error is not None else None
    return _failure({error.code, decline_code}, _message(error, default=_DECLINED))


def _failure(reasons: set[str | None], message: str) -> Failed:
    if "processing_error" in reasons:
        return Failed(code="processing_error", message=message, retryable=True)
    if "insufficient_funds" in reasons:
        return Failed(code="insufficient_funds", message=message, retryable=False)
    return Failed(code="card_declined", message=message, retryable=False)


def _quoted(value: str) -> str:
    """``value`` inside a search query's single quotes (a quote or backslash escaped)."""
    return value.replace("\\", "\\\\").replace("'", "\\'")


def _payment_method(token: str) -> dict[str, Any]:
    if token.startswith("tok_"):
        # A card Token (tok_visa and the other test tokens) is not a PaymentMethod: Stripe
        # turns it into one when it comes as payment_method_data.
        return {"payment_method_data": {"type": "card", "card": {"token": token}}}
    return {"payment_method": token}


def _message(error: stripe.StripeError, default: str = "Stripe refused the request.") -> str:
    message: str = error.user_message or default
    return message[:_MAX_MESSAGE]


def _missing_sdk() -> ModuleNotFoundError:
    return ModuleNotFoundError(
        f"PAYMENT_PROVIDER=stripe needs the Stripe SDK ({SDK_REQUIREMENT}) installed with the "
        "function: build the package with build_package(dest, with_stripe=True)"
    )
