"""Payment rules: idempotency keys, the simulated provider's verdicts, and what is done with
a charge or refund whose outcome nobody heard.

The simulated provider answers by card token the way Stripe's test cards do, so the same
scenarios run against the simulation and against Stripe's test mode. Its payment and refund ids
are functions of their idempotency keys: asking twice with one key returns the same payment, as
a real provider does, which is what makes "charged at most once per order" hold.

Unknown outcomes. When the provider gives no answer (the payment function timed out or could
not be reached, after the invoker's retries), the payments agent keeps the request as
``Unsettled`` and looks again later (``ReconciliationPolicy``): for a charge it asks the
provider what became of the key, and never charges again to find out; for a refund it asks
again under the same key, which the provider answers with the refund it made, if it made one.
"""

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Final, Self

from pydantic import ConfigDict, Field, NonNegativeInt

from streams.contract import (
    FailureCode,
    PaymentRequested,
    Record,
    RefundRequested,
    UtcDatetime,
)


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
    # Charged; every refund of the payment is refused (Stripe fails it a moment later, with
    # failure_reason expired_or_canceled_card; the simulation refuses it at once).
    "tok_refundFail": _APPROVED,
    "4000000000005126": _APPROVED,
    # The simulation's own, no Stripe test card: charged, but every answer to the charge comes
    # too late for the caller, which is left not knowing whether it was charged.
    "tok_simulatedLateAnswer": _APPROVED,
}

# The simulated provider refuses every refund of a payment made with one of these.
REFUND_FAILS: Final = frozenset({"tok_refundFail", "4000000000005126"})
REFUND_FAILURE: Final = (
    "The refund failed: the card is expired or cancelled (expired_or_canceled_card)."
)
# The simulated provider answers a charge with one of these only after the caller gave up.
ANSWERS_LATE: Final = frozenset({"tok_simulatedLateAnswer"})


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


def refund_idempotency_key(order_id: str, payment_id: str, attempt: int = 1) -> str:
    """The provider key of one request for a payment's refund, however often it is asked.

    A new attempt is a new key: the provider replays a refused refund for its key, so asking
    again after a refusal needs one. The first attempt keeps the key refunds always had."""
    if attempt < 1:
        raise ValueError(f"refund attempts start at 1, not {attempt}")
    key = f"shopstream:{order_id}:refund:{payment_id}"
    return key if attempt == 1 else f"{key}:{attempt}"


def provider_id(prefix: str, key: str) -> str:
    """A provider's id for the charge or refund made under ``key``: the same key, the same id."""
    return f"{prefix}_{hashlib.sha256(key.encode()).hexdigest()[:24]}"


# --- outcomes nobody heard ------------------------------------------------------------------

# What a charge that was asked for, never answered and then not found at the provider is
# reported as (a PaymentFailed): no money was taken, and the customer may pay again (a new
# attempt, a new key).
NEVER_CHARGED_CODE: Final[FailureCode] = "processing_error"
NEVER_CHARGED_MESSAGE: Final = (
    "The payment provider did not answer in time and no charge was made. Please try again."
)


@dataclass(frozen=True, slots=True)
class ReconciliationPolicy:
    """When to look again at an outcome nobody heard; the agent builds one from the settings."""

    # The first look this long after the outcome went unknown, each next one twice as long
    # after the last, up to ``max_wait_s`` apart.
    first_look_s: float = 5.0
    max_wait_s: float = 300.0
    # A charge the provider does not know of is taken as never made only this long after it
    # was last asked for: a request still under way (a handler past its timeout, a search
    # index a minute behind) may yet show one.
    settle_s: float = 120.0
    # A refund still unanswered this long after it went unknown is reported failed
    # (``RefundFailed``, code ``unavailable``), for an operator to retry.
    refund_give_up_s: float = 300.0

    def __post_init__(self) -> None:
        if min(self.first_look_s, self.max_wait_s) <= 0:
            raise ValueError("first_look_s and max_wait_s must be positive")
        if min(self.settle_s, self.refund_give_up_s) < 0:
            raise ValueError("settle_s and refund_give_up_s must not be negative")

    def wait(self, looks: int) -> timedelta:
        """The wait before the next look, after ``looks`` looks."""
        return timedelta(seconds=min(self.first_look_s * 2 ** min(looks, 32), self.max_wait_s))


class Unsettled(Record):
    """A charge or refund the provider was asked for and did not answer, kept by the payments
    agent under its idempotency key until its outcome is known (``settled_at``)."""

    # A stored row, read back by newer code: a field since dropped is ignored, not refused.
    model_config = ConfigDict(frozen=True, extra="ignore")

    idempotency_key: Annotated[str, Field(min_length=1, max_length=255)]
    request: Annotated[PaymentRequested | RefundRequested, Field(discriminator="type")]
    since: UtcDatetime  # when the outcome went unknown
    asked_at: UtcDatetime  # when the provider was last asked to act (not merely to look)
    looks: NonNegativeInt = 0
    next_look_at: UtcDatetime
    trouble: str  # why the last call had no answer
    settled_at: UtcDatetime | None = None

    @classmethod
    def of(
        cls,
        request: PaymentRequested | RefundRequested,
        key: str,
        now: datetime,
        trouble: str,
        policy: ReconciliationPolicy,
    ) -> Self:
        """The request just asked for, with no answer."""
        return cls(
            idempotency_key=key,
            request=request,
            since=now,
            asked_at=now,
            next_look_at=now + policy.wait(0),
            trouble=trouble,
        )

    @property
    def is_charge(self) -> bool:
        return isinstance(self.request, PaymentRequested)

    def is_due(self, now: datetime) -> bool:
        return self.settled_at is None and now >= self.next_look_at

    def looked(
        self, now: datetime, trouble: str, policy: ReconciliationPolicy, *, asked: bool = False
    ) -> Self:
        """Still unknown after another look at ``now`` (``asked``: the provider was asked to
        act again, under the same key)."""
        looks = self.looks + 1
        update: dict[str, object] = {
            "looks": looks,
            "next_look_at": now + policy.wait(looks),
            "trouble": trouble,
            "settled_at": None,
        }
        if asked:
            update["asked_at"] = now
        return self.model_copy(update=update)

    def settled(self, now: datetime) -> Self:
        return self.model_copy(update={"settled_at": now})

    def never_charged(self, now: datetime, policy: ReconciliationPolicy) -> bool:
        """Whether a charge the provider does not know of can be taken as never made."""
        return now >= self.asked_at + timedelta(seconds=policy.settle_s)

    def refund_given_up(self, now: datetime, policy: ReconciliationPolicy) -> bool:
        return now >= self.since + timedelta(seconds=policy.refund_give_up_s)
