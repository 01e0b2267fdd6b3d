"""AwsLambdaInvoker's reading of Lambda's answers, for the ones moto cannot give.

moto answers neither throttling nor a function's own error shape, so here the Lambda client
is replaced by one that plays given answers; tests/integration/adapters covers the real API.
"""

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from botocore.exceptions import ClientError
from tenacity import wait_none

from shopstream.settings import Settings
from streams.adapters import payment_invoker
from streams.adapters.payment_invoker import (
    AwsLambdaInvoker,
    PaymentInvokeError,
    PaymentUnavailable,
)
from streams.adapters.payment_messages import Charged
from streams.contract import PaymentRequested

MAX_ATTEMPTS = 3
CHARGED = {"status": "succeeded", "payment_id": "pay_1", "amount_cents": 4500, "currency": "EUR"}
LAMBDA_ERROR = {
    "errorMessage": "Stripe did not answer",
    "errorType": "APIConnectionError",
    "stackTrace": ['  File "/var/task/streams/adapters/stripe_provider.py", line 60\n'],
}


def aws_error(code: str, status: int) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": code}, "ResponseMetadata": {"HTTPStatusCode": status}},
        "Invoke",
    )


class Payload:
    def __init__(self, body: bytes) -> None:
        self.body = body

    async def read(self) -> bytes:
        return self.body


class FakeLambda:
    """Answers each invoke with the next of ``answers``: an exception, or (payload, error)."""

    def __init__(self, *answers: Exception | tuple[dict[str, Any], str | None]) -> None:
        self.answers = list(answers)
        self.invocations: list[dict[str, Any]] = []

    async def invoke(self, **params: Any) -> dict[str, Any]:
        self.invocations.append(params)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        payload, function_error = answer
        response: dict[str, Any] = {"StatusCode": 200}
        response["Payload"] = Payload(json.dumps(payload).encode())
        if function_error:
            response["FunctionError"] = function_error
        return response

    @property
    def keys(self) -> set[str]:
        return {json.loads(params["Payload"])["idempotency_key"] for params in self.invocations}


@pytest.fixture
def settings() -> Settings:
    return Settings(payment_max_attempts=MAX_ATTEMPTS, payment_function_name="pay-fn")


def invoker(
    monkeypatch: pytest.MonkeyPatch, settings: Settings, fake: FakeLambda
) -> AwsLambdaInvoker:
    @asynccontextmanager
    async def client(settings: Settings, service: str, config: object) -> AsyncIterator[FakeLambda]:
        assert service == "lambda"
        yield fake

    monkeypatch.setattr(payment_invoker, "aws_client", client)
    return AwsLambdaInvoker(settings, wait=wait_none())


def command() -> PaymentRequested:
    return PaymentRequested(
        order_id="ord-1", amount_cents=4500, currency="EUR", payment_token="tok_visa", attempt=1
    )


async def test_a_throttled_invoke_is_retried_with_the_same_key(
    monkeypatch: pytest.MonkeyPatch, settings: Settings
) -> None:
    fake = FakeLambda(aws_error("TooManyRequestsException", 429), (CHARGED, None))
    result = await invoker(monkeypatch, settings, fake).charge(command(), "k")
    assert result == Charged(payment_id="pay_1", amount_cents=4500, currency="EUR")
    assert len(fake.invocations) == 2
    assert fake.keys == {"k"}
    assert {p["FunctionName"] for p in fake.invocations} == {"pay-fn"}
    assert {p["InvocationType"] for p in fake.invocations} == {"RequestResponse"}


async def test_a_function_error_is_retried_then_surfaces_lambdas_error_shape(
    monkeypatch: pytest.MonkeyPatch, settings: Settings
) -> None:
    fake = FakeLambda((LAMBDA_ERROR, "Unhandled"))
    with pytest.raises(PaymentUnavailable) as raised:
        await invoker(monkeypatch, settings, fake).charge(command(), "k")
    assert raised.value.error is not None
    assert raised.value.error.as_payload() == LAMBDA_ERROR
    assert len(fake.invocations) == MAX_ATTEMPTS
    assert fake.keys == {"k"}


@pytest.mark.parametrize(
    ("code", "status"),
    [("ResourceNotFoundException", 404), ("AccessDeniedException", 403)],
)
async def test_a_misconfiguration_is_raised_at_once(
    monkeypatch: pytest.MonkeyPatch, settings: Settings, code: str, status: int
) -> None:
    fake = FakeLambda(aws_error(code, status))
    with pytest.raises(PaymentInvokeError, match=code) as raised:
        await invoker(monkeypatch, settings, fake).charge(command(), "k")
    assert not isinstance(raised.value, PaymentUnavailable)
    assert len(fake.invocations) == 1


async def test_a_lambda_service_error_is_retried(
    monkeypatch: pytest.MonkeyPatch, settings: Settings
) -> None:
    fake = FakeLambda(aws_error("ServiceException", 500), (CHARGED, None))
    assert isinstance(await invoker(monkeypatch, settings, fake).charge(command(), "k"), Charged)
    assert len(fake.invocations) == 2
