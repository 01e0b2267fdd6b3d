from datetime import UTC, datetime, timedelta

import pytest

from streams.contract import FailureCode, PaymentRequested, RefundRequested
from streams.domain.payments import (
    ReconciliationPolicy,
    Unsettled,
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


def test_each_refund_attempt_has_a_key_of_its_own_and_the_first_keeps_the_old_one() -> None:
    assert refund_idempotency_key("ord-1", "pay_1", 1) == "shopstream:ord-1:refund:pay_1"
    keys = {refund_idempotency_key("ord-1", "pay_1", attempt) for attempt in (1, 2, 3)}
    assert len(keys) == 3
    with pytest.raises(ValueError, match="start at 1"):
        refund_idempotency_key("ord-1", "pay_1", 0)


@pytest.mark.parametrize("token", ["tok_refundFail", "4000000000005126", "tok_simulatedLateAnswer"])
def test_the_cards_for_refund_failures_and_late_answers_are_charged(token: str) -> None:
    assert charge_outcome(token).succeeded


# --- outcomes nobody heard ------------------------------------------------------------------

T0 = datetime(2025, 3, 1, 12, tzinfo=UTC)
POLICY = ReconciliationPolicy(first_look_s=5, max_wait_s=60, settle_s=120, refund_give_up_s=300)
CHARGE = PaymentRequested(
    order_id="ord-1", amount_cents=4500, currency="EUR", payment_token="tok_visa", attempt=1
)


def unknown(at: datetime = T0) -> Unsettled:
    return Unsettled.of(CHARGE, idempotency_key("ord-1", 1), at, "timed out", POLICY)


def test_looks_back_off_twice_as_long_each_time_up_to_the_longest_wait() -> None:
    waits = [POLICY.wait(looks).total_seconds() for looks in range(6)]
    assert waits == [5, 10, 20, 40, 60, 60]
    assert POLICY.wait(10_000).total_seconds() == 60


def test_an_unknown_outcome_is_due_for_a_look_after_the_wait_and_not_once_settled() -> None:
    row = unknown()
    assert not row.is_due(T0)
    assert row.is_due(T0 + timedelta(seconds=5))
    later = row.looked(T0 + timedelta(seconds=5), "still no answer", POLICY)
    assert (later.looks, later.next_look_at) == (1, T0 + timedelta(seconds=15))
    assert not later.is_due(T0 + timedelta(seconds=14))
    assert not later.settled(T0 + timedelta(seconds=20)).is_due(T0 + timedelta(days=1))


def test_a_charge_not_found_counts_as_never_made_only_long_after_it_was_last_asked() -> None:
    row = unknown()
    assert not row.never_charged(T0 + timedelta(seconds=119), POLICY)
    assert row.never_charged(T0 + timedelta(seconds=120), POLICY)
    # Asked again (a redrive charging under the same key): the wait starts again.
    asked = row.looked(T0 + timedelta(seconds=100), "no answer", POLICY, asked=True)
    assert not asked.never_charged(T0 + timedelta(seconds=200), POLICY)
    # A look alone asks for nothing: it does not move the wait.
    looked = row.looked(T0 + timedelta(seconds=100), "not found yet", POLICY)
    assert looked.never_charged(T0 + timedelta(seconds=120), POLICY)


def test_a_refund_without_an_answer_is_given_up_after_the_give_up_time_since_it_went_unknown() -> (
    None
):
    refund = RefundRequested(
        order_id="ord-1", payment_id="pay_1", amount_cents=4500, currency="EUR", reason="cancelled"
    )
    row = Unsettled.of(refund, refund_idempotency_key("ord-1", "pay_1"), T0, "timed out", POLICY)
    row = row.looked(T0 + timedelta(seconds=200), "timed out", POLICY, asked=True)
    assert not row.refund_given_up(T0 + timedelta(seconds=299), POLICY)
    assert row.refund_given_up(T0 + timedelta(seconds=300), POLICY)
    assert not row.is_charge and unknown().is_charge


def test_an_unsettled_row_reads_back_what_it_stored() -> None:
    row = unknown().looked(T0 + timedelta(seconds=5), "timed out", POLICY)
    assert Unsettled.model_validate_json(row.model_dump_json()) == row
