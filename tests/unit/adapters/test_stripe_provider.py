"""The Stripe adapter's mapping, with the SDK's own objects and error classes.

No Stripe server is reachable from here, so ``PaymentIntent.create`` and ``Refund.create`` are
replaced by functions that record their parameters and answer with objects (or raise errors)
built by the SDK itself. Skipped when the SDK is not installed.
"""

from typing import Any

import pytest

from streams.adapters.payment_function import PaymentFunction
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
from streams.adapters.stripe_provider import StripeProvider

stripe = pytest.importorskip("stripe")

API_KEY = "sk_test_shopstream"


class FakeCall:
    """Stands in for one SDK call: records its keyword arguments, answers or raises."""

    def __init__(self, answer: object) -> None:
        self.answer = answer
        self.calls: list[dict[str, Any]] = []

    def __call__(self, **params: Any) -> object:
        self.calls.append(params)
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


def intent(status: str = "succeeded") -> Any:
    return stripe.PaymentIntent.construct_from(
        {"id": "pi_123", "object": "payment_intent", "status": status, "amount": 4500,
         "currency": "eur"},
        API_KEY,
    )  # fmt: skip


def refund_object(amount: int, status: str = "succeeded") -> Any:
    return stripe.Refund.construct_from(
        {"id": "re_123", "object": "refund", "status": status, "amount": amount,
         "currency": "eur", "failure_reason": "expired_or_canceled_card"},
        API_KEY,
    )  # fmt: skip


def card_error(code: str, decline_code: str | None = None, message: str = "Declined.") -> Any:
    body = {"error": {"type": "card_error", "code": code, "message": message}}
    if decline_code is not None:
        body["error"]["decline_code"] = decline_code
    return stripe.CardError(message, None, code, http_status=402, json_body=body)


def charge_request(card: str = "pm_card_visa") -> ChargeRequest:
    return ChargeRequest(
        order_id="ord-1",
        attempt=2,
        amount_cents=4500,
        currency="EUR",
        payment_token=card,
        idempotency_key="shopstream:ord-1:charge:2",
    )


def refund_request(amount: int) -> RefundRequest:
    return RefundRequest(
        order_id="ord-1",
        payment_id="pi_123",
        amount_cents=amount,
        currency="EUR",
        idempotency_key=f"refund-{amount}",
        reason="cancelled",
    )


def stub(monkeypatch: pytest.MonkeyPatch, resource: Any, answer: object) -> FakeCall:
    fake = FakeCall(answer)
    monkeypatch.setattr(resource, "create", fake)
    return fake


def test_a_charge_creates_and_confirms_a_payment_intent_under_our_key(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    create = stub(monkeypatch, stripe.PaymentIntent, intent())
    answer = StripeProvider(API_KEY).charge(charge_request())
    assert answer == Charged(payment_id="pi_123", amount_cents=4500, currency="EUR")
    assert create.calls == [
        {
            "api_key": API_KEY,
            "idempotency_key": "shopstream:ord-1:charge:2",
            "amount": 4500,
            "currency": "eur",
            "confirm": True,
            "automatic_payment_methods": {"enabled": True, "allow_redirects": "never"},
            "error_on_requires_action": True,
            "metadata": {"order_id": "ord-1", "attempt": "2"},
            "payment_method": "pm_card_visa",
        }
    ]


def test_a_card_token_is_sent_as_payment_method_data(monkeypatch: pytest.MonkeyPatch) -> None:
    create = stub(monkeypatch, stripe.PaymentIntent, intent())
    StripeProvider(API_KEY).charge(charge_request("tok_visa"))
    [params] = create.calls
    assert params["payment_method_data"] == {"type": "card", "card": {"token": "tok_visa"}}
    assert "payment_method" not in params


def test_a_card_number_never_reaches_stripe(monkeypatch: pytest.MonkeyPatch) -> None:
    create = stub(monkeypatch, stripe.PaymentIntent, intent())
    answer = StripeProvider(API_KEY).charge(charge_request("4242 4242 4242 4242"))
    assert isinstance(answer, Failed)
    assert answer.code == "card_declined"
    assert create.calls == []


@pytest.mark.parametrize(
    ("code", "decline_code", "ours", "retryable"),
    [
        ("card_declined", "generic_decline", "card_declined", False),
        ("card_declined", "insufficient_funds", "insufficient_funds", False),
        ("processing_error", None, "processing_error", True),
        ("expired_card", None, "card_declined", False),
        ("authentication_required", "authentication_required", "card_declined", False),
    ],
)
def test_stripes_card_errors_map_onto_our_failure_codes(
    monkeypatch: pytest.MonkeyPatch,
    code: str,
    decline_code: str | None,
    ours: str,
    retryable: bool,
) -> None:
    stub(monkeypatch, stripe.PaymentIntent, card_error(code, decline_code, "Card says no."))
    answer = StripeProvider(API_KEY).charge(charge_request())
    assert answer == Failed(code=ours, message="Card says no.", retryable=retryable)


def test_an_unusable_payment_method_is_the_customers_decline(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    error = stripe.InvalidRequestError("No such PaymentMethod: 'pm_x'", "payment_method")
    stub(monkeypatch, stripe.PaymentIntent, error)
    answer = StripeProvider(API_KEY).charge(charge_request("pm_x"))
    assert isinstance(answer, Failed)
    assert (answer.code, answer.retryable) == ("card_declined", False)


@pytest.mark.parametrize(
    "error",
    [
        pytest.param(lambda: stripe.InvalidRequestError("Amount too small", "amount"), id="amount"),
        pytest.param(lambda: stripe.IdempotencyError("Keys reused"), id="idempotency"),
    ],
)
def test_a_request_stripe_refuses_is_invalid(monkeypatch: pytest.MonkeyPatch, error: Any) -> None:
    stub(monkeypatch, stripe.PaymentIntent, error())
    assert isinstance(StripeProvider(API_KEY).charge(charge_request()), Invalid)


def test_a_network_error_is_raised_as_an_unknown_outcome(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stub(monkeypatch, stripe.PaymentIntent, stripe.APIConnectionError("no route to Stripe"))
    with pytest.raises(stripe.APIConnectionError):
        StripeProvider(API_KEY).charge(charge_request())


def test_a_payment_intent_still_processing_is_raised_as_an_unknown_outcome(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stub(monkeypatch, stripe.PaymentIntent, intent("processing"))
    with pytest.raises(RuntimeError, match="processing"):
        StripeProvider(API_KEY).charge(charge_request())


@pytest.mark.parametrize("amount", [4500, 1200], ids=["full", "partial"])
def test_a_refund_refunds_the_amount_asked_under_our_key(
    monkeypatch: pytest.MonkeyPatch, amount: int
) -> None:
    create = stub(monkeypatch, stripe.Refund, refund_object(amount))
    answer = StripeProvider(API_KEY).refund(refund_request(amount))
    assert answer == Refunded(
        refund_id="re_123", payment_id="pi_123", amount_cents=amount, currency="EUR"
    )
    assert create.calls == [
        {
            "api_key": API_KEY,
            "idempotency_key": f"refund-{amount}",
            "payment_intent": "pi_123",
            "amount": amount,
            "metadata": {"order_id": "ord-1", "reason": "cancelled"},
        }
    ]


def test_a_refund_beyond_the_payment_is_invalid(monkeypatch: pytest.MonkeyPatch) -> None:
    error = stripe.InvalidRequestError("Refund amount is greater than unrefunded amount", "amount")
    stub(monkeypatch, stripe.Refund, error)
    assert isinstance(StripeProvider(API_KEY).refund(refund_request(9999)), Invalid)


def test_a_refund_stripe_reports_failed_is_a_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    stub(monkeypatch, stripe.Refund, refund_object(4500, status="failed"))
    answer = StripeProvider(API_KEY).refund(refund_request(4500))
    assert isinstance(answer, Failed)
    assert "failed" in answer.message


def test_the_function_answers_stripes_decline_in_the_wire_shape(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stub(monkeypatch, stripe.PaymentIntent, card_error("card_declined", "insufficient_funds"))
    function = PaymentFunction.from_environment(
        {"PAYMENT_PROVIDER": "stripe", "STRIPE_API_KEY": API_KEY}
    )
    answer = function(charge_request().model_dump(mode="json"), None)
    assert answer == {
        "status": "failed",
        "code": "insufficient_funds",
        "message": "Declined.",
        "retryable": False,
    }


# --- looking a charge up: a search by the metadata every charge carries ---------------------


def found(*intents: dict[str, Any]) -> Any:
    return stripe.SearchResultObject.construct_from(
        {"object": "search_result", "url": "/v1/payment_intents/search", "has_more": False,
         "data": [{"object": "payment_intent", "amount": 4500, "currency": "eur", **i}
                  for i in intents]},
        API_KEY,
    )  # fmt: skip


def lookup_request(order_id: str = "ord-1") -> LookupRequest:
    return LookupRequest(order_id=order_id, attempt=2, idempotency_key="shopstream:ord-1:charge:2")


def search(monkeypatch: pytest.MonkeyPatch, answer: object) -> FakeCall:
    fake = FakeCall(answer)
    monkeypatch.setattr(stripe.PaymentIntent, "search", fake)
    return fake


def test_a_lookup_searches_by_the_order_and_attempt_the_charge_was_made_for(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls = search(monkeypatch, found({"id": "pi_123", "status": "succeeded"}))
    answer = StripeProvider(API_KEY).lookup(lookup_request())
    assert answer == Charged(payment_id="pi_123", amount_cents=4500, currency="EUR")
    assert calls.calls == [
        {
            "api_key": API_KEY,
            "query": "metadata['order_id']:'ord-1' AND metadata['attempt']:'2'",
            "limit": 10,
        }
    ]


def test_a_lookup_quotes_what_the_query_language_would_misread(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls = search(monkeypatch, found())
    StripeProvider(API_KEY).lookup(lookup_request("ord-'1'\\"))
    [params] = calls.calls
    assert params["query"].startswith(r"metadata['order_id']:'ord-\'1\'\\' AND")


def test_a_charge_stripe_has_no_payment_intent_for_is_not_found(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    search(monkeypatch, found())
    assert StripeProvider(API_KEY).lookup(lookup_request()) == NotFound()


def test_a_charge_whose_confirmation_failed_is_answered_with_its_card_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    error = {"type": "card_error", "code": "card_declined", "decline_code": "insufficient_funds",
             "message": "Your card has insufficient funds."}  # fmt: skip
    search(
        monkeypatch,
        found({"id": "pi_1", "status": "requires_payment_method", "last_payment_error": error}),
    )
    answer = StripeProvider(API_KEY).lookup(lookup_request())
    assert answer == Failed(
        code="insufficient_funds", message="Your card has insufficient funds.", retryable=False
    )


def test_a_succeeded_payment_intent_wins_over_a_failed_one_for_the_same_attempt(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    search(
        monkeypatch,
        found({"id": "pi_1", "status": "canceled"}, {"id": "pi_2", "status": "succeeded"}),
    )
    answer = StripeProvider(API_KEY).lookup(lookup_request())
    assert isinstance(answer, Charged) and answer.payment_id == "pi_2"


def test_a_payment_intent_not_settled_yet_is_raised_as_an_unknown_outcome(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    search(monkeypatch, found({"id": "pi_1", "status": "processing"}))
    with pytest.raises(RuntimeError, match="processing"):
        StripeProvider(API_KEY).lookup(lookup_request())


def test_a_search_stripe_refuses_is_invalid(monkeypatch: pytest.MonkeyPatch) -> None:
    search(monkeypatch, stripe.InvalidRequestError("Search is not available", "query"))
    assert isinstance(StripeProvider(API_KEY).lookup(lookup_request()), Invalid)
