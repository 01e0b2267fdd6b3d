"""The payments agent under Faust's test context: charges and refunds through the local
payment function (the simulated provider), each answered once and kept in its table."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from streams.agents.payments import payments_agent, payments_table
from streams.contract import (
    PaymentFailed,
    PaymentRefunded,
    PaymentRequested,
    PaymentSucceeded,
    RefundRequested,
    ReserveStock,
    decode,
)
from streams.domain.payments import idempotency_key
from streams.topics import PAYMENTS_EVENTS
from tests.unit.streams.agents.conftest import Sent, put, reason_of


def request(token: str, order_id: str) -> PaymentRequested:
    return PaymentRequested(
        order_id=order_id, amount_cents=4500, currency="EUR", payment_token=token, attempt=1
    )


def new_order_id() -> str:
    # The simulated provider lives as long as the process and remembers every key it saw.
    return f"ord-{uuid.uuid4().hex[:12]}"


async def test_a_good_card_is_charged_and_the_answer_kept_under_the_idempotency_key(
    sent: Sent,
) -> None:
    order_id = new_order_id()
    async with payments_agent.test_context() as agent:
        assert await put(agent, request("tok_visa", order_id)) == "applied"

    [answer] = sent.events(PAYMENTS_EVENTS)
    assert isinstance(answer, PaymentSucceeded)
    assert (answer.order_id, answer.amount_cents, answer.attempt) == (order_id, 4500, 1)
    kept = payments_table.get(idempotency_key(order_id, 1).encode())
    assert kept is not None and decode(kept) == answer


async def test_a_declined_card_is_answered_failed_and_not_retryable(sent: Sent) -> None:
    async with payments_agent.test_context() as agent:
        await put(agent, request("tok_chargeDeclined", new_order_id()))

    [answer] = sent.events(PAYMENTS_EVENTS)
    assert isinstance(answer, PaymentFailed)
    assert (answer.code, answer.retryable) == ("card_declined", False)


async def test_a_redelivered_request_is_answered_again_with_the_same_payment(
    sent: Sent,
) -> None:
    charge = request("tok_visa", new_order_id())
    async with payments_agent.test_context() as agent:
        assert await put(agent, charge) == "applied"
        assert await put(agent, charge) == "duplicate"

    first, again = sent.events(PAYMENTS_EVENTS)
    assert isinstance(first, PaymentSucceeded)
    # The very same event (same id): the saga dedupes it, and no second charge was made.
    assert again == first


async def test_a_refund_of_a_payment_is_answered_refunded(sent: Sent) -> None:
    order_id = new_order_id()
    async with payments_agent.test_context() as agent:
        await put(agent, request("tok_visa", order_id))
        [paid] = sent.events(PAYMENTS_EVENTS)
        assert isinstance(paid, PaymentSucceeded)
        refund = RefundRequested(
            order_id=order_id,
            payment_id=paid.payment_id,
            amount_cents=4500,
            currency="EUR",
            reason="cancelled",
        )
        assert await put(agent, refund) == "applied"

    refunded = sent.events(PAYMENTS_EVENTS)[-1]
    assert isinstance(refunded, PaymentRefunded)
    assert (refunded.payment_id, refunded.amount_cents) == (paid.payment_id, 4500)


async def test_a_command_for_another_agent_is_dead_lettered_and_nothing_is_charged(
    sent: Sent,
) -> None:
    stray = ReserveStock(order_id="ord-1", sku="MUG-01", quantity=1, expires_at=datetime.now(UTC))
    async with payments_agent.test_context() as agent:
        assert await put(agent, stray) == "dead_lettered"

    assert reason_of(sent.dead_letters()[0]) == "the payments agent does not consume ReserveStock"
    assert sent.events(PAYMENTS_EVENTS) == []
