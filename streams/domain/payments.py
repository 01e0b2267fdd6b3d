"""Payment rules: the charge's idempotency key and the simulated provider's verdicts.

The simulated provider answers by card token the way Stripe's test cards do, so the same
scenarios run against the simulation and against Stripe's test mode. Its payment and refund ids
are functions of their idempotency keys: asking twice with one key returns the same payment, as
a real provider does, which is what makes "charged at most once per order" hold.
"""

import hashlib
from dataclasses import dataclass
from typing import Final

from streams.contract import FailureCode


@dataclass(frozen=True, slots=True)
class ChargeOutcome:
    failure: FailureCode | None  # None: the charge succeeded
    message: str
    retryable: bool = False

    @property
    def succeeded(self) -> bool:
        return self.failure is None


_APPROVED: Final = ChargeOutcome(None, "Payment approved.")
_DECLINED: Final = ChargeOutcome("card_declined", "Your card was declined.")
_NO_FUNDS: Final = ChargeOutcome("insufficient_funds", "Your card has insufficient funds.")
_PROCESSING: Final = ChargeOutcome(
    "processing_error",
    "An error occurred while processing your card. Try again in a little bit.",
    retryable=True,
)

# Stripe's test tokens and the card numbers behind them.
_TEST_CARDS: Final = {
    "tok_visa": _APPROVED,
    "4242424242424242": _APPROVED,
    "tok_chargeDeclined": _DECLINED,
    "4000000000000002": _DECLINED,
    "tok_chargeDeclinedInsufficientFunds": _NO_FUNDS,
    "4000000000009995": _NO_FUNDS,
    "tok_chargeDeclinedProcessingError": _PROCESSING,
    "4000000000000119": _PROCESSING,
}


def charge_outcome(payment_token: str) -> ChargeOutcome:
    """What the simulated provider answers for this token (card numbers may contain spaces)."""
    outcome = _TEST_CARDS.get(payment_token.replace(" ", ""))
    if outcome is not None:
        return outcome
    return ChargeOutcome(
        "card_declined",
        f"Unknown test card {payment_token!r}: the simulated provider knows tok_visa "
        "(4242424242424242) and the Stripe decline test cards only.",
    )


def idempotency_key(order_id: str, attempt: int) -> str:
    """The provider key of one charge: one charge per order and attempt, however often asked."""
    if attempt < 1:
        raise ValueError(f"payment attempts start at 1, not {attempt}")
    return f"shopstream:{order_id}:charge:{attempt}"


def refund_idempotency_key(order_id: str, payment_id: str) -> str:
    """The provider key of a full refund: one refund per payment, however often asked."""
    return f"shopstream:{order_id}:refund:{payment_id}"


def provider_id(prefix: str, key: str) -> str:
    """A provider's id for the charge or refund made under ``key``: the same key, the same id."""
    return f"{prefix}_{hashlib.sha256(key.encode()).hexdigest()[:24]}"
