"""The payments agent under Faust's test context: charges and refunds through the local
payment function (the simulated provider), each answered once and kept in its table."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from tenacity import wait_none

from shopstream.settings import Settings
from streams.adapters.payment_function import PaymentFunction, SimulatedProvider
from streams.adapters.payment_invoker import LocalLambdaInvoker
from streams.adapters.payment_messages import ChargeRequest
from streams.agents import payments
from streams.agents.payments import payments_agent, payments_table
from streams.contract import (
    PaymentFailed,
    PaymentReconciliationDue,
    PaymentRefunded,
    PaymentRequested,
    PaymentSucceeded,
    RefundFailed,
    RefundRequested,
    ReserveStock,
    decode,
    encode,
)
from streams.domain.payments import (
    ReconciliationPolicy,
    Unsettled,
    idempotency_key,
    refund_idempotency_key,
)
from streams.topics import PAYMENTS_EVENTS, REDRIVEN_FROM_HEADER
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


# --- refunds the provider refuses or never answers, charges nobody heard of ------------------


class Function:
    """The payment function the agent calls: the simulation (its late card answering after
    the invoker's 0.1 s), every call recorded by action, and actions made to fail as an
    unreachable provider would."""

    def __init__(self) -> None:
        self.function = PaymentFunction(SimulatedProvider(late_answer_s=0.3))
        self.calls: list[tuple[str, str]] = []  # (action, idempotency key)
        self.down: set[str] = set()

    def __call__(self, event: dict[str, Any], context: object) -> dict[str, Any]:
        self.calls.append((event["action"], event["idempotency_key"]))
        if event["action"] in self.down:
            raise ConnectionError("the provider is unreachable")
        return self.function(event, context)

    def actions(self) -> list[str]:
        return [action for action, _ in self.calls]


@pytest.fixture
def function(monkeypatch: pytest.MonkeyPatch) -> Function:
    called = Function()
    invoker = LocalLambdaInvoker(
        Settings(payment_timeout_s=0.1, payment_max_attempts=1), handler=called, wait=wait_none()
    )
    monkeypatch.setattr(payments, "invoker", invoker)
    look_now(monkeypatch)
    payments._due.clear()
    payments._hinted.clear()
    return called


def look_now(
    monkeypatch: pytest.MonkeyPatch, *, settle_s: float = 3600, give_up_s: float = 3600
) -> None:
    """Rows due for a look at once; a charge not found taken as never made after
    ``settle_s``, a refund unanswered given up after ``give_up_s``."""
    policy = ReconciliationPolicy(
        first_look_s=0.001, max_wait_s=0.001, settle_s=settle_s, refund_give_up_s=give_up_s
    )
    monkeypatch.setattr(payments, "policy", policy)


def hint(order_id: str, key: str) -> PaymentReconciliationDue:
    return PaymentReconciliationDue(order_id=order_id, idempotency_key=key)


def refund_of(paid: PaymentSucceeded, attempt: int = 1) -> RefundRequested:
    return RefundRequested(
        order_id=paid.order_id,
        payment_id=paid.payment_id,
        amount_cents=paid.amount_cents,
        currency="EUR",
        reason="order cancelled",
        attempt=attempt,
    )


def row(key: str) -> Unsettled | None:
    raw = payments.unsettled_table.get(key.encode())
    return None if raw is None else Unsettled.model_validate_json(raw)


async def test_a_refund_the_provider_refuses_is_answered_refund_failed_and_kept(
    sent: Sent, function: Function
) -> None:
    order_id = new_order_id()
    async with payments_agent.test_context() as agent:
        await put(agent, request("tok_refundFail", order_id))
        [paid] = sent.events(PAYMENTS_EVENTS)
        assert isinstance(paid, PaymentSucceeded)
        assert await put(agent, refund_of(paid)) == "applied"

    failed = sent.events(PAYMENTS_EVENTS)[-1]
    assert isinstance(failed, RefundFailed)
    assert (failed.payment_id, failed.attempt, failed.code, failed.retryable) == (
        paid.payment_id,
        1,
        "refused",
        False,
    )
    assert "expired_or_canceled_card" in failed.reason
    assert sent.dead_letters() == []
    kept = payments_table.get(refund_idempotency_key(order_id, paid.payment_id).encode())
    assert kept is not None and decode(kept) == failed


async def test_a_refund_asked_again_under_a_new_attempt_goes_to_the_provider_again(
    sent: Sent, function: Function
) -> None:
    order_id = new_order_id()
    async with payments_agent.test_context() as agent:
        await put(agent, request("tok_refundFail", order_id))
        [paid] = sent.events(PAYMENTS_EVENTS)
        assert isinstance(paid, PaymentSucceeded)
        await put(agent, refund_of(paid))
        await put(agent, refund_of(paid, attempt=2))

    *_, first, second = sent.events(PAYMENTS_EVENTS)
    assert [(e.type, e.attempt) for e in (first, second)] == [  # type: ignore[union-attr]
        ("RefundFailed", 1),
        ("RefundFailed", 2),
    ]
    keys = [key for action, key in function.calls if action == "refund"]
    assert keys == [
        refund_idempotency_key(order_id, paid.payment_id, 1),
        refund_idempotency_key(order_id, paid.payment_id, 2),
    ]


async def test_a_charge_nobody_answered_is_kept_unsettled_and_nothing_is_reported(
    sent: Sent, function: Function
) -> None:
    order_id = new_order_id()
    async with payments_agent.test_context() as agent:
        assert await put(agent, request("tok_simulatedLateAnswer", order_id)) == "applied"

    assert sent.events(PAYMENTS_EVENTS) == []
    assert sent.dead_letters() == []
    key = idempotency_key(order_id, 1)
    kept = row(key)
    assert kept is not None and kept.settled_at is None and kept.is_charge
    assert "timed out" in kept.trouble
    assert payments_table.get(key.encode()) is None


async def test_a_due_look_finds_the_charge_made_and_reports_it_once(
    sent: Sent, function: Function
) -> None:
    order_id = new_order_id()
    key = idempotency_key(order_id, 1)
    async with payments_agent.test_context() as agent:
        await put(agent, request("tok_simulatedLateAnswer", order_id))
        assert await put(agent, hint(order_id, key)) == "applied"
        assert await put(agent, hint(order_id, key)) == "duplicate"  # settled by the first

    [paid] = sent.events(PAYMENTS_EVENTS)
    assert isinstance(paid, PaymentSucceeded) and paid.attempt == 1
    assert function.actions() == ["charge", "lookup"]  # looked up, never charged again
    settled = row(key)
    assert settled is not None and settled.settled_at is not None
    kept = payments_table.get(key.encode())
    assert kept is not None and decode(kept) == paid


async def test_the_timer_hints_each_due_row_until_it_is_looked_at(
    sent: Sent, function: Function
) -> None:
    order_id = new_order_id()
    key = idempotency_key(order_id, 1)
    async with payments_agent.test_context() as agent:
        await put(agent, request("tok_simulatedLateAnswer", order_id))
        later = datetime.now(UTC) + timedelta(seconds=1)
        [due] = payments.due_hints(later)
        assert (due.order_id, due.idempotency_key) == (order_id, key)
        assert payments.due_hints(later) == []  # one hint in flight
        await put(agent, due)
    assert payments.due_hints(datetime.now(UTC) + timedelta(days=1)) == []  # settled


async def test_a_charge_the_provider_does_not_know_is_reported_failed_once_it_has_settled(
    sent: Sent, function: Function, monkeypatch: pytest.MonkeyPatch
) -> None:
    order_id = new_order_id()
    key = idempotency_key(order_id, 1)
    function.down.add("charge")
    async with payments_agent.test_context() as agent:
        await put(agent, request("tok_visa", order_id))
        await put(agent, hint(order_id, key))
        assert sent.events(PAYMENTS_EVENTS) == []  # not found yet: maybe still under way
        look_now(monkeypatch, settle_s=0)
        await put(agent, hint(order_id, key))

    [failed] = sent.events(PAYMENTS_EVENTS)
    assert isinstance(failed, PaymentFailed)
    assert (failed.code, failed.retryable, failed.attempt) == ("processing_error", True, 1)
    assert "no charge was made" in failed.message
    assert function.actions() == ["charge", "lookup", "lookup"]


async def test_a_redriven_charge_is_looked_up_and_not_charged_again(
    sent: Sent, function: Function
) -> None:
    order_id = new_order_id()
    charge = request("tok_simulatedLateAnswer", order_id)
    key = idempotency_key(order_id, 1)
    # The first delivery made the charge, then went to the dead-letter topic without its answer.
    function.function(ChargeRequest.of(charge, key).model_dump(mode="json"), None)
    redriven = [(REDRIVEN_FROM_HEADER, b"shopstream.dead-letters/0/7")]
    async with payments_agent.test_context() as agent:
        await agent.put(encode(charge), key=charge.key.encode(), headers=redriven)

    [paid] = sent.events(PAYMENTS_EVENTS)
    assert isinstance(paid, PaymentSucceeded)
    assert function.actions() == ["lookup"]


async def test_a_redriven_charge_the_provider_never_made_is_made_under_its_key(
    sent: Sent, function: Function
) -> None:
    order_id = new_order_id()
    charge = request("tok_visa", order_id)
    redriven = [(REDRIVEN_FROM_HEADER, b"shopstream.dead-letters/0/8")]
    async with payments_agent.test_context() as agent:
        await agent.put(encode(charge), key=charge.key.encode(), headers=redriven)

    [paid] = sent.events(PAYMENTS_EVENTS)
    assert isinstance(paid, PaymentSucceeded)
    key = idempotency_key(order_id, 1)
    assert function.calls == [("lookup", key), ("charge", key)]


async def test_a_refund_nobody_answers_is_reported_failed_then_retried_under_its_key(
    sent: Sent, function: Function, monkeypatch: pytest.MonkeyPatch
) -> None:
    order_id = new_order_id()
    async with payments_agent.test_context() as agent:
        await put(agent, request("tok_visa", order_id))
        [paid] = sent.events(PAYMENTS_EVENTS)
        assert isinstance(paid, PaymentSucceeded)
        key = refund_idempotency_key(order_id, paid.payment_id)
        function.down.add("refund")
        assert await put(agent, refund_of(paid)) == "applied"
        assert sent.events(PAYMENTS_EVENTS) == [paid]  # nothing known, nothing said
        look_now(monkeypatch, give_up_s=0)
        await put(agent, hint(order_id, key))
        failed = sent.events(PAYMENTS_EVENTS)[-1]
        assert isinstance(failed, RefundFailed)
        assert (failed.code, failed.retryable, failed.attempt) == ("unavailable", True, 1)
        # Not the key's answer: asked again under it, the provider answers.
        assert payments_table.get(key.encode()) is None
        function.down.clear()
        assert await put(agent, refund_of(paid)) == "applied"

    refunded = sent.events(PAYMENTS_EVENTS)[-1]
    assert isinstance(refunded, PaymentRefunded) and refunded.payment_id == paid.payment_id
    assert [key for action, key in function.calls if action == "refund"] == [key] * 3


async def test_a_hint_for_a_key_with_nothing_unsettled_does_nothing(
    sent: Sent, function: Function
) -> None:
    async with payments_agent.test_context() as agent:
        assert await put(agent, hint("ord-x", "shopstream:ord-x:charge:1")) == "duplicate"
    assert sent.events(PAYMENTS_EVENTS) == [] and function.calls == []
