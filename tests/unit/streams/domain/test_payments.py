import pytest

from streams.contract import FailureCode
from streams.domain.payments import (
    charge_outcome,
    idempotency_key,
    provider_id,
    refund_idempotency_key,
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


def test_the_refund_key_is_one_per_payment() -> None:
    assert refund_idempotency_key("ord-1", "pay_1") == refund_idempotency_key("ord-1", "pay_1")
    assert refund_idempotency_key("ord-1", "pay_1") != refund_idempotency_key("ord-1", "pay_2")


def test_a_provider_id_is_a_function_of_its_key() -> None:
    key = idempotency_key("ord-1", 1)
    assert provider_id("pay", key) == provider_id("pay", key)
    assert provider_id("pay", key).startswith("pay_")
    assert provider_id("pay", key) != provider_id("pay", idempotency_key("ord-1", 2))
