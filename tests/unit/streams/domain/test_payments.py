from datetime import UTC, datetime

import pytest

from streams.contract import (
    FailureCode,
    PaymentFailed,
    PaymentRequested,
    PaymentSucceeded,
    RefundRequested,
)
from streams.domain.payments import (
    charge_outcome,
    idempotency_key,
    refund_idempotency_key,
    simulate_charge,
    simulate_refund,
)

NOW = datetime(2025, 3, 1, 12, tzinfo=UTC)


def request(card: str = "tok_visa", attempt: int = 1, order_id: str = "ord-1") -> PaymentRequested:
    return PaymentRequested(
        order_id=order_id, amount_cents=4500, currency="EUR", payment_token=card, attempt=attempt
    )


@pytest.mark.parametrize(
    ("token", "failure", "retryable"),
    [
        ("tok_visa", None, False),
        ("4242424242424242", None, False),
        ("tok_chargeDeclined", "card_declined", False),
        ("4000000000000002", "card_declined", False),
        ("tok_chargeDeclinedInsufficientFunds", "insufficient_funds", False),
        ("4000000000009995", "insufficient_funds", False),
        ("tok_chargeDeclinedProcessingError", "processing_error", True),
        ("4000000000000119", "processing_error", True),
    ],
)
def test_the_simulated_provider_answers_like_stripes_test_cards(
    token: str, failure: FailureCode | None, retryable: bool
) -> None:
    outcome = charge_outcome(token)
    assert (outcome.failure, outcome.retryable, outcome.succeeded) == (
        failure,
        retryable,
        failure is None,
    )
    assert outcome.message


def test_a_card_number_written_with_spaces_is_recognised() -> None:
    assert charge_outcome("4242 4242 4242 4242").succeeded


def test_an_unknown_token_is_declined_with_a_message_naming_it() -> None:
    outcome = charge_outcome("tok_amex")
    assert outcome.failure == "card_declined"
    assert not outcome.retryable
    assert "'tok_amex'" in outcome.message
    assert "tok_visa" in outcome.message


def test_the_charge_key_is_one_per_order_and_attempt() -> None:
    assert idempotency_key("ord-1", 1) == idempotency_key("ord-1", 1)
    keys = {idempotency_key("ord-1", 1), idempotency_key("ord-1", 2), idempotency_key("ord-2", 1)}
    assert len(keys) == 3


def test_attempts_start_at_one() -> None:
    with pytest.raises(ValueError, match="start at 1"):
        idempotency_key("ord-1", 0)


def test_a_successful_charge_echoes_amount_currency_and_attempt() -> None:
    answer = simulate_charge(request(), NOW)
    assert isinstance(answer, PaymentSucceeded)
    assert (answer.order_id, answer.amount_cents, answer.currency, answer.attempt) == (
        "ord-1",
        4500,
        "EUR",
        1,
    )
    assert answer.payment_id.startswith("pay_")


def test_asking_twice_for_the_same_attempt_returns_the_same_payment() -> None:
    first = simulate_charge(request(), NOW)
    second = simulate_charge(request(), NOW)  # another command, same idempotency key
    assert isinstance(first, PaymentSucceeded) and isinstance(second, PaymentSucceeded)
    assert first.payment_id == second.payment_id


def test_a_new_attempt_is_a_new_payment() -> None:
    first = simulate_charge(request(attempt=1), NOW)
    second = simulate_charge(request(attempt=2), NOW)
    assert isinstance(first, PaymentSucceeded) and isinstance(second, PaymentSucceeded)
    assert first.payment_id != second.payment_id


def test_a_declined_charge_reports_code_message_and_whether_to_retry() -> None:
    answer = simulate_charge(request("tok_chargeDeclinedProcessingError", attempt=2), NOW)
    assert isinstance(answer, PaymentFailed)
    assert (answer.code, answer.retryable, answer.attempt) == ("processing_error", True, 2)


def test_the_answer_is_derived_from_the_command() -> None:
    command = request()
    first, second = simulate_charge(command, NOW), simulate_charge(command, NOW)
    assert first.event_id == second.event_id != command.event_id
    assert (first.trace_id, first.occurred_at, first.key) == (command.trace_id, NOW, "ord-1")


def test_a_refund_returns_the_amount_with_one_refund_id_per_payment() -> None:
    command = RefundRequested(
        order_id="ord-1", payment_id="pay_1", amount_cents=4500, currency="EUR", reason="cancelled"
    )
    refunded = simulate_refund(command, NOW)
    again = simulate_refund(command.model_copy(update={"reason": "asked again"}), NOW)
    assert (refunded.payment_id, refunded.amount_cents, refunded.currency) == ("pay_1", 4500, "EUR")
    assert refunded.refund_id == again.refund_id
    assert refunded.refund_id.startswith("re_")
    assert refund_idempotency_key("ord-1", "pay_1") != refund_idempotency_key("ord-1", "pay_2")
