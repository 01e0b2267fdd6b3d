import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from tenacity import wait_none

from shopstream.settings import Settings
from streams.adapters.payment_function import (
    ConfigurationError,
    PaymentFunction,
    SimulatedProvider,
)
from streams.adapters.payment_invoker import (
    BACKOFF_INITIAL_S,
    BACKOFF_JITTER_S,
    AwsLambdaInvoker,
    Handler,
    LambdaContext,
    LocalLambdaInvoker,
    PaymentInvokeError,
    PaymentRequestInvalid,
    PaymentUnavailable,
    charge_event,
    payment_invoker,
    refund_event,
    refund_failed_event,
)
from streams.adapters.payment_messages import Charged, Failed, NotFound, Refunded
from streams.contract import (
    PaymentFailed,
    PaymentRefunded,
    PaymentRequested,
    PaymentSucceeded,
    RefundRequested,
)
from streams.domain.payments import charge_outcome, idempotency_key, refund_idempotency_key

NOW = datetime(2025, 3, 1, 12, tzinfo=UTC)
TIMEOUT_S = 0.2
MAX_ATTEMPTS = 4
PROCESSING_ERROR = {
    "status": "failed",
    "code": "processing_error",
    "message": "An error occurred while processing your card.",
    "retryable": True,
}
CHARGED = {"status": "succeeded", "payment_id": "pay_1", "amount_cents": 4500, "currency": "EUR"}


def settings(**overrides: Any) -> Settings:
    return Settings(payment_timeout_s=TIMEOUT_S, payment_max_attempts=MAX_ATTEMPTS, **overrides)


def command(card: str = "tok_visa", attempt: int = 1) -> PaymentRequested:
    return PaymentRequested(
        order_id="ord-1", amount_cents=4500, currency="EUR", payment_token=card, attempt=attempt
    )


class Script:
    """A handler that plays its steps in order (an exception is raised, "hang" outlives the
    timeout) and records what it was called with."""

    def __init__(self, *steps: object) -> None:
        self.steps = list(steps)
        self.events: list[dict[str, Any]] = []
        self.contexts: list[LambdaContext] = []
        self.release = threading.Event()

    def __call__(self, event: dict[str, Any], context: LambdaContext) -> object:
        self.events.append(event)
        self.contexts.append(context)
        step = self.steps.pop(0) if len(self.steps) > 1 else self.steps[0]
        if step == "hang":
            self.release.wait(timeout=5)
            return CHARGED
        if isinstance(step, Exception):
            raise step
        return step

    @property
    def keys(self) -> set[str]:
        return {event["idempotency_key"] for event in self.events}


class Recorder:
    """The real function, recording what it was asked."""

    def __init__(self) -> None:
        self.function = PaymentFunction(SimulatedProvider())
        self.events: list[dict[str, Any]] = []

    def __call__(self, event: dict[str, Any], context: object) -> dict[str, Any]:
        self.events.append(event)
        return self.function(event, context)


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def released() -> Iterator[list[Script]]:
    """Scripts whose hanging threads are let go when the test ends."""
    scripts: list[Script] = []
    yield scripts
    for script in scripts:
        script.release.set()


def local(handler: Handler) -> LocalLambdaInvoker:
    return LocalLambdaInvoker(settings(), handler=handler, wait=wait_none())


async def charged(request: PaymentRequested) -> PaymentSucceeded | PaymentFailed:
    """What the payments agent makes of ``request``: the in-process function (a fresh one, as a
    new Lambda container would be) asked under the order's key, the answer as the event."""
    invoker = LocalLambdaInvoker(settings(), wait=wait_none())
    result = await invoker.charge(request, idempotency_key(request.order_id, request.attempt))
    return charge_event(request, result, NOW)


async def refunded(request: RefundRequested) -> PaymentRefunded:
    """What the payments agent makes of ``request``, asked under the payment's refund key."""
    invoker = LocalLambdaInvoker(settings(), wait=wait_none())
    key = refund_idempotency_key(request.order_id, request.payment_id)
    result = await invoker.refund(request, key)
    assert isinstance(result, Refunded)
    return refund_event(request, result, NOW)


@pytest.mark.parametrize(
    "token",
    [
        "tok_visa",
        "tok_chargeDeclined",
        "tok_chargeDeclinedInsufficientFunds",
        "tok_chargeDeclinedProcessingError",
    ],
)
async def test_every_test_card_yields_the_event_of_the_simulated_providers_verdict(
    token: str,
) -> None:
    answer = await charged(command(token))
    outcome = charge_outcome(token)
    if outcome.succeeded:
        assert isinstance(answer, PaymentSucceeded)
    else:
        assert isinstance(answer, PaymentFailed)
        assert (answer.code, answer.message, answer.retryable) == (
            outcome.failure,
            outcome.message,
            outcome.retryable,
        )


async def test_a_successful_charge_echoes_amount_currency_and_attempt() -> None:
    answer = await charged(command())
    assert isinstance(answer, PaymentSucceeded)
    assert (answer.order_id, answer.amount_cents, answer.currency, answer.attempt) == (
        "ord-1",
        4500,
        "EUR",
        1,
    )
    assert answer.payment_id.startswith("pay_")


async def test_asking_twice_for_the_same_attempt_returns_the_same_payment() -> None:
    first = await charged(command())
    second = await charged(command())  # another command, same idempotency key
    assert isinstance(first, PaymentSucceeded) and isinstance(second, PaymentSucceeded)
    assert first.payment_id == second.payment_id


async def test_a_new_attempt_is_a_new_payment() -> None:
    first = await charged(command(attempt=1))
    second = await charged(command(attempt=2))
    assert isinstance(first, PaymentSucceeded) and isinstance(second, PaymentSucceeded)
    assert first.payment_id != second.payment_id


async def test_a_declined_charge_reports_code_message_and_whether_to_retry() -> None:
    answer = await charged(command("tok_chargeDeclinedProcessingError", attempt=2))
    assert isinstance(answer, PaymentFailed)
    assert (answer.code, answer.retryable, answer.attempt) == ("processing_error", True, 2)
    assert answer.message


async def test_the_answer_is_derived_from_the_command() -> None:
    request = command()
    first, second = await charged(request), await charged(request)
    assert first.event_id == second.event_id != request.event_id
    assert (first.trace_id, first.occurred_at, first.key) == (request.trace_id, NOW, "ord-1")


async def test_a_refund_returns_the_amount_with_one_refund_id_per_payment() -> None:
    payment = await charged(command())
    assert isinstance(payment, PaymentSucceeded)
    request = RefundRequested(
        order_id="ord-1",
        payment_id=payment.payment_id,
        amount_cents=4500,
        currency="EUR",
        reason="cancelled",
    )
    first = await refunded(request)
    again = await refunded(request.model_copy(update={"reason": "asked again"}))
    assert (first.payment_id, first.amount_cents, first.currency) == (
        payment.payment_id,
        4500,
        "EUR",
    )
    assert first.refund_id == again.refund_id
    assert first.refund_id.startswith("re_")
    assert (first.trace_id, first.occurred_at, first.key) == (request.trace_id, NOW, "ord-1")


async def test_a_partial_refund_refunds_part_of_the_payment(recorder: Recorder) -> None:
    invoker = local(recorder)
    charged = await invoker.charge(command(), "charge-key")
    assert isinstance(charged, Charged)
    request = RefundRequested(
        order_id="ord-1",
        payment_id=charged.payment_id,
        amount_cents=1000,
        currency="EUR",
        reason="one mug arrived broken",
    )
    refunded = await invoker.refund(request, "partial-1")
    assert isinstance(refunded, Refunded)
    assert (refunded.amount_cents, refunded.payment_id) == (1000, charged.payment_id)


@pytest.mark.parametrize("token", ["tok_chargeDeclined", "tok_chargeDeclinedInsufficientFunds"])
async def test_a_decline_is_answered_at_once_without_retrying(
    recorder: Recorder, token: str
) -> None:
    result = await local(recorder).charge(command(token), "key")
    assert isinstance(result, Failed)
    assert not result.retryable
    assert len(recorder.events) == 1


async def test_a_processing_error_is_retried_with_the_same_key_until_it_succeeds() -> None:
    script = Script(PROCESSING_ERROR, PROCESSING_ERROR, CHARGED)
    result = await local(script).charge(command(), "the-key")
    assert result == Charged(payment_id="pay_1", amount_cents=4500, currency="EUR")
    assert len(script.events) == 3
    assert script.keys == {"the-key"}


async def test_a_persisting_processing_error_is_answered_after_the_last_attempt(
    recorder: Recorder,
) -> None:
    result = await local(recorder).charge(command("tok_chargeDeclinedProcessingError"), "k")
    assert isinstance(result, Failed)
    assert (result.code, result.retryable) == ("processing_error", True)
    assert len(recorder.events) == MAX_ATTEMPTS
    assert {event["idempotency_key"] for event in recorder.events} == {"k"}


async def test_a_handler_exception_is_retried_as_an_unknown_outcome() -> None:
    script = Script(RuntimeError("Stripe did not answer"), CHARGED)
    result = await local(script).charge(command(), "k")
    assert isinstance(result, Charged)
    assert len(script.events) == 2
    assert script.keys == {"k"}


async def test_a_handler_that_keeps_raising_surfaces_lambdas_error_shape() -> None:
    script = Script(ValueError("boom"))
    with pytest.raises(PaymentUnavailable) as raised:
        await local(script).charge(command(), "k")
    error = raised.value.error
    assert error is not None
    assert (error.error_type, error.error_message) == ("ValueError", "boom")
    assert any("in __call__" in line for line in error.stack_trace)
    assert set(error.as_payload()) == {"errorMessage", "errorType", "stackTrace"}
    assert len(script.events) == MAX_ATTEMPTS
    assert script.keys == {"k"}


async def test_a_handler_that_times_out_is_retried_with_the_same_key(
    released: list[Script],
) -> None:
    script = Script("hang", CHARGED)
    released.append(script)
    result = await local(script).charge(command(), "k")
    assert isinstance(result, Charged)
    assert len(script.events) == 2
    assert script.keys == {"k"}


async def test_a_handler_that_always_times_out_is_unavailable_like_a_lambda_timeout(
    released: list[Script],
) -> None:
    script = Script("hang")
    released.append(script)
    with pytest.raises(PaymentUnavailable) as raised:
        await local(script).charge(command(), "k")
    error = raised.value.error
    assert error is not None
    assert error.error_type == "Sandbox.Timedout"
    assert error.error_message.endswith(f"Task timed out after {TIMEOUT_S:.2f} seconds")
    assert len(script.events) == MAX_ATTEMPTS


async def test_an_answer_that_is_not_json_is_a_marshal_error() -> None:
    script = Script({"status": "succeeded", "when": NOW})
    with pytest.raises(PaymentUnavailable) as raised:
        await local(script).charge(command(), "k")
    assert raised.value.error is not None
    assert raised.value.error.error_type == "Runtime.MarshalError"


async def test_the_handler_gets_the_wire_request_and_a_lambda_like_context() -> None:
    script = Script(PROCESSING_ERROR, CHARGED)
    await local(script).charge(command(), "k")
    assert script.events[0] == {
        "action": "charge",
        "order_id": "ord-1",
        "attempt": 1,
        "amount_cents": 4500,
        "currency": "EUR",
        "payment_token": "tok_visa",
        "idempotency_key": "k",
    }
    context = script.contexts[0]
    name = Settings().payment_function_name
    assert context.function_name == name
    assert context.function_version == "$LATEST"
    assert context.invoked_function_arn.endswith(f":function:{name}")
    assert context.memory_limit_in_mb == "256"
    assert context.log_group_name == f"/aws/lambda/{name}"
    assert "[$LATEST]" in context.log_stream_name
    assert 0 < context.get_remaining_time_in_millis() <= TIMEOUT_S * 1000
    assert script.contexts[0].aws_request_id != script.contexts[1].aws_request_id


async def test_an_invalid_answer_is_raised_without_retrying(recorder: Recorder) -> None:
    invoker = local(recorder)
    charged = await invoker.charge(command(), "k")
    assert isinstance(charged, Charged)
    too_much = RefundRequested(
        order_id="ord-1",
        payment_id=charged.payment_id,
        amount_cents=4501,
        currency="EUR",
        reason="cancelled",
    )
    with pytest.raises(PaymentRequestInvalid, match="greater than the unrefunded amount"):
        await invoker.refund(too_much, "r")
    assert len(recorder.events) == 2


async def test_an_answer_outside_the_contract_is_raised_without_retrying() -> None:
    script = Script({"status": "maybe"})
    with pytest.raises(PaymentInvokeError) as raised:
        await local(script).charge(command(), "k")
    assert not isinstance(raised.value, PaymentUnavailable)
    assert len(script.events) == 1


async def test_retries_back_off_exponentially_by_default() -> None:
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    invoker = LocalLambdaInvoker(settings(), handler=Script(PROCESSING_ERROR), sleep=sleep)
    await invoker.charge(command(), "k")
    assert len(slept) == MAX_ATTEMPTS - 1
    for retry, seconds in enumerate(slept):
        base = BACKOFF_INITIAL_S * 2**retry
        assert base <= seconds <= base + BACKOFF_JITTER_S


def test_a_local_invoker_for_stripe_without_a_key_fails_at_once() -> None:
    with pytest.raises(ConfigurationError, match="STRIPE_API_KEY"):
        LocalLambdaInvoker(settings(payment_provider="stripe", stripe_api_key=None))


@pytest.mark.parametrize(
    ("mode", "kind"), [("local", LocalLambdaInvoker), ("aws", AwsLambdaInvoker)]
)
def test_the_settings_choose_the_invoker(mode: str, kind: type) -> None:
    assert isinstance(payment_invoker(settings(payment_invoker=mode)), kind)


# --- lookups: what became of a charge, never a charge -----------------------------------


async def test_a_lookup_answers_the_charge_made_under_the_key_without_charging(
    recorder: Recorder,
) -> None:
    invoker = local(recorder)
    made = await invoker.charge(command(), "k")
    assert await invoker.lookup(command(), "k") == made
    assert isinstance(await invoker.lookup(command(attempt=2), "other"), NotFound)
    assert [event["action"] for event in recorder.events] == ["charge", "lookup", "lookup"]


async def test_a_charge_found_refused_is_the_answer_and_is_not_asked_again() -> None:
    script = Script(PROCESSING_ERROR)
    found = await local(script).lookup(command(), "k")
    assert isinstance(found, Failed) and found.retryable
    assert len(script.events) == 1
    assert script.events[0] == {
        "action": "lookup",
        "order_id": "ord-1",
        "attempt": 1,
        "idempotency_key": "k",
    }


async def test_a_lookup_without_an_answer_is_retried_then_unavailable(
    released: list[Script],
) -> None:
    script = Script("hang")
    released.append(script)
    with pytest.raises(PaymentUnavailable):
        await local(script).lookup(command(), "k")
    assert len(script.events) == MAX_ATTEMPTS


async def test_a_function_that_does_not_know_lookups_is_an_invalid_request() -> None:
    script = Script({"status": "invalid", "message": "action: Input tag 'lookup' ..."})
    with pytest.raises(PaymentRequestInvalid, match="lookup"):
        await local(script).lookup(command(), "k")


def test_a_refund_failure_becomes_the_orders_refund_failed_event_of_the_request() -> None:
    request = RefundRequested(
        order_id="ord-1",
        payment_id="pay_1",
        amount_cents=4500,
        currency="EUR",
        reason="cancelled",
        attempt=2,
    )
    failed = refund_failed_event(
        request, "refused", "card expired\x00\nreally", retryable=False, now=NOW
    )
    again = refund_failed_event(
        request, "refused", "card expired\x00\nreally", retryable=False, now=NOW
    )
    assert failed == again  # the same id for the same request: the saga dedupes a replay
    assert (failed.payment_id, failed.amount_cents, failed.attempt, failed.code) == (
        "pay_1",
        4500,
        2,
        "refused",
    )
    assert failed.reason == "card expired \nreally"
    assert failed.trace_id == request.trace_id
