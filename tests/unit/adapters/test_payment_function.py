import sys
import threading
import time
from typing import Any

import pytest

from streams.adapters.payment_function import (
    ConfigurationError,
    PaymentFunction,
    SimulatedProvider,
    handler,
)
from streams.adapters.stripe_provider import SDK_REQUIREMENT, StripeProvider
from streams.domain.payments import idempotency_key, provider_id


def charge(
    card: str = "tok_visa", *, key: str = "key-1", amount: int = 4500, **extra: Any
) -> dict[str, Any]:
    return {
        "action": "charge",
        "order_id": "ord-1",
        "attempt": 1,
        "amount_cents": amount,
        "currency": "EUR",
        "payment_token": card,
        "idempotency_key": key,
        **extra,
    }


def refund(
    payment_id: str, *, key: str = "refund-1", amount: int = 4500, currency: str = "EUR"
) -> dict[str, Any]:
    return {
        "action": "refund",
        "order_id": "ord-1",
        "payment_id": payment_id,
        "amount_cents": amount,
        "currency": currency,
        "idempotency_key": key,
        "reason": "cancelled by the customer",
    }


def lookup(*, key: str = "key-1", order_id: str = "ord-1", attempt: int = 1) -> dict[str, Any]:
    return {"action": "lookup", "order_id": order_id, "attempt": attempt, "idempotency_key": key}


@pytest.fixture
def function() -> PaymentFunction:
    return PaymentFunction(SimulatedProvider())


@pytest.mark.parametrize(
    ("token", "code", "retryable"),
    [
        ("tok_chargeDeclined", "card_declined", False),
        ("4000000000000002", "card_declined", False),
        ("tok_chargeDeclinedInsufficientFunds", "insufficient_funds", False),
        ("4000000000009995", "insufficient_funds", False),
        ("tok_chargeDeclinedProcessingError", "processing_error", True),
        ("4000 0000 0000 0119", "processing_error", True),
        ("tok_unknown", "card_declined", False),
    ],
)
def test_a_failing_test_card_is_answered_with_its_code_and_retryability(
    function: PaymentFunction, token: str, code: str, retryable: bool
) -> None:
    answer = function(charge(token), None)
    assert answer["status"] == "failed"
    assert (answer["code"], answer["retryable"]) == (code, retryable)
    assert answer["message"]


@pytest.mark.parametrize("token", ["tok_visa", "4242424242424242", "4242 4242 4242 4242"])
def test_a_succeeding_test_card_is_charged(function: PaymentFunction, token: str) -> None:
    answer = function(charge(token), None)
    assert answer == {
        "status": "succeeded",
        "payment_id": answer["payment_id"],
        "amount_cents": 4500,
        "currency": "EUR",
    }
    assert answer["payment_id"].startswith("pay_")


def test_the_same_key_is_charged_once_and_answered_the_same_every_time(
    function: PaymentFunction,
) -> None:
    answers = [function(charge(key="once"), None) for _ in range(3)]
    assert answers[0] == answers[1] == answers[2]


def test_a_failure_is_replayed_for_its_key_as_stripe_does(function: PaymentFunction) -> None:
    first = function(charge("tok_chargeDeclinedProcessingError", key="k"), None)
    assert function(charge("tok_chargeDeclinedProcessingError", key="k"), None) == first


def test_different_keys_are_different_payments(function: PaymentFunction) -> None:
    first = function(charge(key="a"), None)["payment_id"]
    second = function(charge(key="b"), None)["payment_id"]
    assert first != second


def test_payment_ids_survive_a_cold_start_because_they_derive_from_the_key() -> None:
    before = PaymentFunction(SimulatedProvider())(charge(key="k"), None)
    after = PaymentFunction(SimulatedProvider())(charge(key="k"), None)
    assert before == after


def test_payment_ids_stay_the_same_once_the_key_is_forgotten() -> None:
    function = PaymentFunction(SimulatedProvider(remembered=1))
    first = function(charge(key="k"), None)
    function(charge(key="other"), None)  # pushes "k" out of memory
    assert function(charge(key="k"), None) == first


def test_the_payment_id_is_the_one_every_instance_of_the_function_gives_the_order() -> None:
    # Two Lambda containers, neither remembering the other's answers.
    key = idempotency_key("ord-1", 1)
    first = PaymentFunction(SimulatedProvider())(charge(key=key), None)
    second = PaymentFunction(SimulatedProvider())(charge(key=key), None)
    assert first["status"] == second["status"] == "succeeded"
    assert first["payment_id"] == second["payment_id"] == provider_id("pay", key)


def test_a_key_reused_with_other_parameters_is_refused_and_the_payment_kept(
    function: PaymentFunction,
) -> None:
    first = function(charge(key="k", amount=4500), None)
    reused = function(charge(key="k", amount=9999), None)
    assert reused["status"] == "invalid"
    assert "first used with other parameters" in reused["message"]
    assert function(charge(key="k", amount=4500), None) == first


@pytest.mark.parametrize(
    ("event", "mentions"),
    [
        (None, "JSON object"),
        ([charge()], "JSON object"),
        ("charge", "JSON object"),
        ({}, "discriminator 'action'"),
        ({**charge(), "action": "capture"}, "action"),
        ({k: v for k, v in charge().items() if k != "payment_token"}, "payment_token"),
        (charge(amount="4500"), "amount_cents"),  # type: ignore[arg-type]
        (charge(amount=-1), "amount_cents"),
        (charge(attempt=0), "attempt"),
        (charge(attempt=True), "attempt"),
        (charge(currency="eur"), "currency"),
        (charge(key=""), "idempotency_key"),
        (charge(order_id="ord 1"), "order_id"),
        (charge(coupon="FREE"), "coupon"),
        ({**refund("pay_1"), "amount_cents": 0}, "amount_cents"),
        ({k: v for k, v in refund("pay_1").items() if k != "payment_id"}, "payment_id"),
    ],
)
def test_a_bad_payload_is_answered_invalid_naming_the_problem(
    function: PaymentFunction, event: object, mentions: str
) -> None:
    answer = function(event, None)
    assert answer["status"] == "invalid"
    assert mentions in answer["message"]


def test_a_full_refund_refunds_the_whole_payment(function: PaymentFunction) -> None:
    payment_id = function(charge(), None)["payment_id"]
    answer = function(refund(payment_id, amount=4500), None)
    assert answer == {
        "status": "succeeded",
        "refund_id": answer["refund_id"],
        "payment_id": payment_id,
        "amount_cents": 4500,
        "currency": "EUR",
    }
    assert answer["refund_id"].startswith("re_")
    assert function(refund(payment_id, key="again", amount=1), None)["status"] == "invalid"


def test_partial_refunds_add_up_to_the_payment_and_no_further(
    function: PaymentFunction,
) -> None:
    payment_id = function(charge(), None)["payment_id"]
    first = function(refund(payment_id, key="r1", amount=1500), None)
    second = function(refund(payment_id, key="r2", amount=2000), None)
    too_much = function(refund(payment_id, key="r3", amount=1001), None)
    rest = function(refund(payment_id, key="r3", amount=1000), None)
    assert [a["status"] for a in (first, second, rest)] == ["succeeded"] * 3
    assert len({first["refund_id"], second["refund_id"], rest["refund_id"]}) == 3
    assert too_much["status"] == "invalid"
    assert "greater than the unrefunded amount" in too_much["message"]


def test_a_refund_asked_twice_with_one_key_refunds_once(function: PaymentFunction) -> None:
    payment_id = function(charge(), None)["payment_id"]
    first = function(refund(payment_id, key="r", amount=3000), None)
    assert function(refund(payment_id, key="r", amount=3000), None) == first
    # Had the replay refunded again, nothing would be left of the 4500.
    assert function(refund(payment_id, key="r2", amount=1500), None)["status"] == "succeeded"


def test_a_refund_in_another_currency_than_the_payment_is_invalid(
    function: PaymentFunction,
) -> None:
    payment_id = function(charge(), None)["payment_id"]
    answer = function(refund(payment_id, currency="USD"), None)
    assert answer["status"] == "invalid"
    assert "currency" in answer["message"]


def test_a_payment_made_before_a_restart_can_still_be_refunded(
    function: PaymentFunction,
) -> None:
    answer = function(refund("pay_from_before_the_restart", amount=100), None)
    assert answer["status"] == "succeeded"


def test_every_refund_of_a_refund_fail_card_is_refused_and_replayed_for_its_key(
    function: PaymentFunction,
) -> None:
    payment_id = function(charge("tok_refundFail"), None)["payment_id"]
    first = function(refund(payment_id, key="r1"), None)
    assert first["status"] == "failed"
    assert "expired_or_canceled_card" in first["message"]
    assert function(refund(payment_id, key="r1"), None) == first
    assert function(refund(payment_id, key="r2"), None)["status"] == "failed"


# --- looking a charge up ------------------------------------------------------------------


def test_a_lookup_answers_the_charge_made_under_the_key(function: PaymentFunction) -> None:
    made = function(charge(key="k"), None)
    assert function(lookup(key="k"), None) == made


def test_a_lookup_answers_a_refused_charge_as_refused(function: PaymentFunction) -> None:
    refused = function(charge("tok_chargeDeclined", key="k"), None)
    assert function(lookup(key="k"), None) == refused


def test_a_lookup_of_a_key_never_charged_is_not_found_and_charges_nothing(
    function: PaymentFunction,
) -> None:
    assert function(lookup(key="k"), None) == {"status": "not_found"}
    assert function(lookup(key="k"), None) == {"status": "not_found"}


def test_a_lookup_for_another_order_than_the_keys_is_invalid(function: PaymentFunction) -> None:
    function(charge(key="k"), None)
    answer = function(lookup(key="k", order_id="ord-2"), None)
    assert answer["status"] == "invalid"
    assert "ord-1" in answer["message"]


def test_the_late_answer_card_is_charged_at_once_and_answered_too_late() -> None:
    function = PaymentFunction(SimulatedProvider(late_answer_s=0.5))
    answers: list[dict[str, Any]] = []
    started = time.monotonic()
    caller = threading.Thread(
        target=lambda: answers.append(function(charge("tok_simulatedLateAnswer", key="k"), None))
    )
    caller.start()
    time.sleep(0.1)
    # While the caller still waits, a lookup finds the charge, answered at once.
    found = function(lookup(key="k"), None)
    assert found["status"] == "succeeded"
    assert time.monotonic() - started < 0.5
    caller.join()
    assert time.monotonic() - started >= 0.5
    assert answers == [found]


def test_the_late_answer_comes_as_late_as_the_environment_says() -> None:
    function = PaymentFunction.from_environment({"SIMULATED_LATE_ANSWER_S": "0.1"})
    started = time.monotonic()
    function(charge("tok_simulatedLateAnswer"), None)
    assert 0.1 <= time.monotonic() - started < 5
    with pytest.raises(ConfigurationError, match="SIMULATED_LATE_ANSWER_S"):
        PaymentFunction.from_environment({"SIMULATED_LATE_ANSWER_S": "soon"})


def test_the_lambda_entry_point_defaults_to_the_simulated_provider(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("PAYMENT_PROVIDER", raising=False)
    assert handler(charge(key="entry-point"), None)["status"] == "succeeded"


@pytest.mark.parametrize(
    ("environ", "complaint"),
    [
        ({"PAYMENT_PROVIDER": "paypal"}, "'paypal'"),
        ({"PAYMENT_PROVIDER": "stripe"}, "STRIPE_API_KEY"),
        ({"PAYMENT_PROVIDER": "stripe", "STRIPE_API_KEY": ""}, "STRIPE_API_KEY"),
    ],
)
def test_a_misconfigured_function_raises_rather_than_answering(
    environ: dict[str, str], complaint: str
) -> None:
    with pytest.raises(ConfigurationError, match=complaint):
        PaymentFunction.from_environment(environ)


def test_the_stripe_provider_is_chosen_by_the_environment() -> None:
    function = PaymentFunction.from_environment(
        {"PAYMENT_PROVIDER": "stripe", "STRIPE_API_KEY": "sk_test_x"}
    )
    assert isinstance(function.provider, StripeProvider)


def test_without_the_stripe_sdk_the_function_raises_naming_the_pin(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "stripe", None)  # what an absent package looks like
    function = PaymentFunction(StripeProvider("sk_test_x"))
    with pytest.raises(ModuleNotFoundError, match=SDK_REQUIREMENT):
        function(charge(), None)
