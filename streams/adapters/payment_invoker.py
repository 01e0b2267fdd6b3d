"""Calling the payment function: in-process like Lambda would (local), or through Lambda (aws).

``payment_invoker(settings)`` picks one by ``settings.payment_invoker``. Both send the same
JSON request (``payment_messages``) and retry the same way, with exponential backoff, up to
``settings.payment_max_attempts`` times in all, always with the caller's idempotency key, so
the provider charges at most once however often it is asked:

    - ``processing_error`` (the provider's retryable refusal) is retried; if it persists the
      last ``Failed`` is returned, since the provider has said it charged nothing;
    - a timeout, a handler exception (Lambda's error shape), an AWS transport error or
      throttling is retried; if it persists ``PaymentUnavailable`` is raised, since the
      charge may have happened: the caller must ask again later with the same key, and must
      not report the payment failed, because a retry under a new key could charge twice;
    - a decline, insufficient funds, an ``invalid`` answer (``PaymentRequestInvalid``) or
      a misconfiguration (``PaymentInvokeError``: no such function, access denied) is not.

``lookup`` asks what became of a charge (``streams.adapters.payment_messages``); only an
unknown outcome is retried, since the charge's own answer, a refusal included, is the answer.

``charge_event`` and ``refund_event`` turn an answer into the contract's event, its envelope
derived from the request's, so a request redelivered and asked again yields the very same event.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
import traceback
import uuid
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, Protocol, TypeAlias, TypeVar, assert_never

from aiobotocore.config import AioConfig as Config
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import TypeAdapter, ValidationError
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    retry_if_result,
    stop_after_attempt,
    wait_exponential_jitter,
)
from tenacity.wait import wait_base

from shopstream.aws import aws_client
from shopstream.logs import get_logger
from shopstream.settings import Settings
from streams.adapters.payment_function import PaymentFunction
from streams.adapters.payment_messages import (
    ChargeAnswer,
    Charged,
    ChargeRequest,
    Failed,
    Invalid,
    LookupAnswer,
    LookupRequest,
    NotFound,
    RefundAnswer,
    Refunded,
    RefundRequest,
)
from streams.adapters.payment_package import function_environment
from streams.contract import (
    PaymentFailed,
    PaymentRefunded,
    PaymentRequested,
    PaymentSucceeded,
    RefundFailed,
    RefundFailureCode,
    RefundRequested,
    derive,
)

log = get_logger(__name__)

ChargeResult: TypeAlias = Charged | Failed
RefundResult: TypeAlias = Refunded | Failed
LookupResult: TypeAlias = Charged | Failed | NotFound
Handler: TypeAlias = Callable[[Any, Any], Any]
Sleep: TypeAlias = Callable[[float], Awaitable[None]]

# Waits between attempts: 0.25 s, 0.5 s, 1 s, ... up to 5 s, each plus up to 0.25 s of jitter
# so that the partitions of a worker that all failed together do not retry in step.
BACKOFF_INITIAL_S: Final = 0.25
BACKOFF_MAX_S: Final = 5.0
BACKOFF_JITTER_S: Final = 0.25
# How much longer than the function's own timeout an AWS invoke may take: Lambda's overhead.
INVOKE_OVERHEAD_S: Final = 5.0
# Lambda's own answers that mean "not now" rather than "never".
_TRANSIENT_AWS_CODES: Final = frozenset(
    {
        "TooManyRequestsException",
        "ResourceNotReadyException",
        "ResourceConflictException",
        "EC2ThrottledException",
        "ServiceException",
    }
)
_CONTROL: Final = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_CHARGE_ANSWER: Final = TypeAdapter[Charged | Failed | Invalid](ChargeAnswer)
_REFUND_ANSWER: Final = TypeAdapter[Refunded | Failed | Invalid](RefundAnswer)
_LOOKUP_ANSWER: Final = TypeAdapter[Charged | Failed | NotFound | Invalid](LookupAnswer)

_A = TypeVar(
    "_A",
    Charged | Failed | Invalid,
    Refunded | Failed | Invalid,
    Charged | Failed | NotFound | Invalid,
)


class PaymentInvokeError(Exception):
    """The payment function could not be asked, or answered outside its contract."""


class PaymentRequestInvalid(PaymentInvokeError):
    """The function refused the request as invalid: our bug, never the customer's."""


@dataclass(frozen=True, slots=True)
class LambdaError:
    """Lambda's error shape: what an invocation that raised (or timed out) returns."""

    error_type: str
    error_message: str
    stack_trace: tuple[str, ...] = ()

    @classmethod
    def from_payload(cls, payload: bytes) -> LambdaError:
        try:
            shape = json.loads(payload)
        except ValueError:
            shape = None
        if not isinstance(shape, dict):
            # Not the runtime's JSON (moto without Docker, for one, answers plain text).
            return cls("Unknown", payload.decode(errors="replace"))
        return cls(
            error_type=str(shape.get("errorType", "Unknown")),
            error_message=str(shape.get("errorMessage", "")),
            stack_trace=tuple(str(line) for line in shape.get("stackTrace") or ()),
        )

    def as_payload(self) -> dict[str, Any]:
        return {
            "errorMessage": self.error_message,
            "errorType": self.error_type,
            "stackTrace": list(self.stack_trace),
        }


class PaymentUnavailable(PaymentInvokeError):
    """No answer after every attempt: whether the provider acted is unknown.

    Ask again later with the same idempotency key; do not report the payment as failed."""

    def __init__(self, message: str, *, error: LambdaError | None = None) -> None:
        super().__init__(message)
        self.error = error


class PaymentInvoker(Protocol):
    async def charge(self, request: PaymentRequested, idempotency_key: str) -> ChargeResult:
        """Charge for ``request`` once, whatever the number of calls with this key."""
        ...

    async def refund(self, request: RefundRequested, idempotency_key: str) -> RefundResult:
        """Refund ``request.amount_cents`` of the payment once per key (partial refunds
        need a key each)."""
        ...

    async def lookup(self, request: PaymentRequested, idempotency_key: str) -> LookupResult:
        """What became of the charge asked for under this key; never charges."""
        ...


def payment_invoker(settings: Settings) -> PaymentInvoker:
    match settings.payment_invoker:
        case "local":
            return LocalLambdaInvoker(settings)
        case "aws":
            return AwsLambdaInvoker(settings)
        case unreachable:
            assert_never(unreachable)


def charge_event(
    request: PaymentRequested, result: ChargeResult, now: datetime
) -> PaymentSucceeded | PaymentFailed:
    """The event answering ``request``: its id is derived from the request's, so a request
    redelivered and charged again (same key, same answer) yields the very same event."""
    answer: PaymentSucceeded | PaymentFailed
    if isinstance(result, Charged):
        answer = PaymentSucceeded(
            order_id=request.order_id,
            payment_id=result.payment_id,
            amount_cents=result.amount_cents,
            currency=result.currency,
            attempt=request.attempt,
        )
    else:
        answer = PaymentFailed(
            order_id=request.order_id,
            code=result.code,
            message=result.message,
            retryable=result.retryable,
            attempt=request.attempt,
        )
    return derive(
        answer, cause_id=request.event_id, tag=answer.type, trace_id=request.trace_id, now=now
    )


def refund_failed_event(
    request: RefundRequested,
    code: RefundFailureCode,
    reason: str,
    *,
    retryable: bool,
    now: datetime,
) -> RefundFailed:
    """The event telling the order its refund was not made (or not confirmed), derived from
    the request's like every answer."""
    failed = RefundFailed(
        order_id=request.order_id,
        payment_id=request.payment_id,
        amount_cents=request.amount_cents,
        currency=request.currency,
        attempt=request.attempt,
        code=code,
        reason=_one_text(reason),
        retryable=retryable,
    )
    return derive(
        failed, cause_id=request.event_id, tag=failed.type, trace_id=request.trace_id, now=now
    )


def _one_text(reason: str) -> str:
    # A provider's message or an exception's text, as the contract's Text takes it: no control
    # characters but line breaks, at most 1000 characters.
    cleaned = _CONTROL.sub(" ", reason).strip() or "no reason given"
    return cleaned if len(cleaned) <= 1000 else cleaned[:999] + "…"


def refund_event(request: RefundRequested, result: Refunded, now: datetime) -> PaymentRefunded:
    refunded = PaymentRefunded(
        order_id=request.order_id,
        refund_id=result.refund_id,
        payment_id=result.payment_id,
        amount_cents=result.amount_cents,
        currency=result.currency,
    )
    return derive(
        refunded, cause_id=request.event_id, tag=refunded.type, trace_id=request.trace_id, now=now
    )


class _RetryingInvoker(ABC):
    """Builds the request, retries, and parses the answer; subclasses only carry it."""

    def __init__(
        self, settings: Settings, *, wait: wait_base | None = None, sleep: Sleep = asyncio.sleep
    ) -> None:
        self._max_attempts = settings.payment_max_attempts
        self._wait = wait or wait_exponential_jitter(
            multiplier=BACKOFF_INITIAL_S, max=BACKOFF_MAX_S, jitter=BACKOFF_JITTER_S
        )
        self._sleep = sleep

    async def charge(self, request: PaymentRequested, idempotency_key: str) -> ChargeResult:
        answer = await self._ask(ChargeRequest.of(request, idempotency_key), _CHARGE_ANSWER)
        if isinstance(answer, Invalid):
            raise PaymentRequestInvalid(answer.message)
        return answer

    async def refund(self, request: RefundRequested, idempotency_key: str) -> RefundResult:
        answer = await self._ask(RefundRequest.of(request, idempotency_key), _REFUND_ANSWER)
        if isinstance(answer, Invalid):
            raise PaymentRequestInvalid(answer.message)
        return answer

    async def lookup(self, request: PaymentRequested, idempotency_key: str) -> LookupResult:
        answer = await self._ask(
            LookupRequest.of(request, idempotency_key), _LOOKUP_ANSWER, retry_refusals=False
        )
        if isinstance(answer, Invalid):
            raise PaymentRequestInvalid(answer.message)
        return answer

    async def _ask(
        self,
        request: ChargeRequest | RefundRequest | LookupRequest,
        answers: TypeAdapter[_A],
        *,
        retry_refusals: bool = True,
    ) -> _A:
        payload = request.model_dump(mode="json")
        bound = log.bind(
            order_id=request.order_id,
            action=request.action,
            idempotency_key=request.idempotency_key,
        )

        async def once() -> _A:
            raw = await self._invoke(payload)
            try:
                return answers.validate_json(raw)
            except ValidationError as error:
                raise PaymentInvokeError(f"the payment function answered {raw!r}") from error

        def before_sleep(state: RetryCallState) -> None:
            outcome = state.outcome
            reason = repr(outcome.exception()) if outcome and outcome.failed else "retryable"
            bound.warning("payment call retried", attempt=state.attempt_number, reason=reason)

        retrying = AsyncRetrying(
            stop=stop_after_attempt(self._max_attempts),
            wait=self._wait,
            sleep=self._sleep,
            retry=retry_if_exception_type(PaymentUnavailable)
            | retry_if_result(_retryable if retry_refusals else _never),
            before_sleep=before_sleep,
            # Out of attempts: a retryable refusal is the answer; an unknown outcome is raised.
            retry_error_callback=_last_outcome,
        )
        answer: _A = await retrying(once)
        return answer

    @abstractmethod
    async def _invoke(self, payload: dict[str, Any]) -> bytes:
        """The function's JSON answer; PaymentUnavailable when there is none (yet)."""


def _retryable(answer: object) -> bool:
    return isinstance(answer, Failed) and answer.retryable


def _never(answer: object) -> bool:
    return False


def _last_outcome(state: RetryCallState) -> Any:
    assert state.outcome is not None  # only called after an attempt
    return state.outcome.result()


# --- local: the handler in-process, under Lambda's rules ----------------------------------


@dataclass(frozen=True, slots=True)
class LambdaContext:
    """What Lambda's Python runtime passes as ``context`` (strings where it uses strings)."""

    function_name: str
    function_version: str
    invoked_function_arn: str
    memory_limit_in_mb: str
    aws_request_id: str
    log_group_name: str
    log_stream_name: str
    deadline: float  # time.monotonic() when the invocation times out
    identity: None = None
    client_context: None = None

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.deadline - time.monotonic()) * 1000))


class LocalLambdaInvoker(_RetryingInvoker):
    """Runs the handler in this process on a pool of threads, as Lambda would run it: a fresh
    JSON copy of the event, a Lambda-like context, the settings' timeout, a JSON answer, and
    an exception turned into Lambda's error shape. The pool's size is the function's
    concurrency (``payment_function_concurrency``, Lambda's reserved concurrency): calls past
    it wait for a free thread, and no thread is started per call.

    A timed-out handler cannot be stopped (Lambda would end its sandbox); it keeps its thread
    until it returns, and its answer is dropped. The provider's idempotency covers the retry
    that overlaps it."""

    def __init__(
        self,
        settings: Settings,
        *,
        handler: Handler | None = None,
        wait: wait_base | None = None,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        super().__init__(settings, wait=wait, sleep=sleep)
        self._handler = handler or PaymentFunction.from_environment(function_environment(settings))
        self._timeout_s = settings.payment_timeout_s
        self._threads = ThreadPoolExecutor(
            max_workers=settings.payment_function_concurrency,
            thread_name_prefix="payment-function",
        )
        self._function_name = settings.payment_function_name
        self._arn = (
            f"arn:aws:lambda:{settings.aws_region}:000000000000:function:"
            f"{settings.payment_function_name}"
        )

    async def _invoke(self, payload: dict[str, Any]) -> bytes:
        context = self._context()
        event = json.loads(json.dumps(payload))
        answered = asyncio.get_running_loop().run_in_executor(
            self._threads, _run_handler, self._handler, event, context
        )
        try:
            raw, failed = await asyncio.wait_for(answered, self._timeout_s)
        except TimeoutError:
            error = LambdaError(
                "Sandbox.Timedout",
                f"{context.aws_request_id} Task timed out after {self._timeout_s:.2f} seconds",
            )
            raise PaymentUnavailable(error.error_message, error=error) from None
        if failed:
            error = LambdaError.from_payload(raw)
            raise PaymentUnavailable(f"{error.error_type}: {error.error_message}", error=error)
        return raw

    def _context(self) -> LambdaContext:
        request_id = str(uuid.uuid4())
        return LambdaContext(
            function_name=self._function_name,
            function_version="$LATEST",
            invoked_function_arn=self._arn,
            memory_limit_in_mb="256",
            aws_request_id=request_id,
            log_group_name=f"/aws/lambda/{self._function_name}",
            log_stream_name=f"{datetime.now(UTC):%Y/%m/%d}/[$LATEST]{uuid.uuid4().hex}",
            deadline=time.monotonic() + self._timeout_s,
        )


def _run_handler(handler: Handler, event: Any, context: LambdaContext) -> tuple[bytes, bool]:
    """On a pool thread: call the handler; its answer serialised, or its exception in
    Lambda's error shape (``True``: the invocation failed)."""
    try:
        answer = handler(event, context)
    except Exception as exception:
        frames = traceback.format_list(traceback.extract_tb(exception.__traceback__))
        error = LambdaError(type(exception).__name__, str(exception), tuple(frames))
        log.warning(
            "payment function raised",
            request_id=context.aws_request_id,
            error_type=error.error_type,
            error_message=error.error_message,
        )
        return json.dumps(error.as_payload()).encode(), True
    try:
        return json.dumps(answer).encode(), False
    except (TypeError, ValueError) as exception:
        error = LambdaError("Runtime.MarshalError", f"Unable to marshal response: {exception}")
        return json.dumps(error.as_payload()).encode(), True


# --- aws: Lambda's Invoke API ---------------------------------------------------------------


class AwsLambdaInvoker(_RetryingInvoker):
    """Invokes the deployed function (RequestResponse) through ``aws_client(settings,
    "lambda")``. A client per call: nothing to open or close around the invoker, and the
    client's cost is small beside an invocation's."""

    def __init__(
        self, settings: Settings, *, wait: wait_base | None = None, sleep: Sleep = asyncio.sleep
    ) -> None:
        super().__init__(settings, wait=wait, sleep=sleep)
        self._settings = settings
        self._deadline_s = settings.payment_timeout_s + INVOKE_OVERHEAD_S
        # Retries are ours (same idempotency key, our backoff); botocore's would stack on them.
        self._client_config = Config(
            retries={"max_attempts": 1, "mode": "standard"},
            connect_timeout=settings.health_timeout_s,
            read_timeout=self._deadline_s,
        )

    async def _invoke(self, payload: dict[str, Any]) -> bytes:
        name = self._settings.payment_function_name
        try:
            async with (
                asyncio.timeout(self._deadline_s),
                aws_client(self._settings, "lambda", self._client_config) as client,
            ):
                response = await client.invoke(
                    FunctionName=name,
                    InvocationType="RequestResponse",
                    Payload=json.dumps(payload).encode(),
                )
                raw: bytes = await response["Payload"].read()
        except TimeoutError:
            raise PaymentUnavailable(
                f"Lambda {name} gave no answer within {self._deadline_s:.1f} s"
            ) from None
        except BotoCoreError as error:  # no connection, read timeout, ...
            raise PaymentUnavailable(f"Lambda {name} unreachable: {error}") from error
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
            message = f"Lambda {name}: {code}: {error}"
            if code in _TRANSIENT_AWS_CODES or status >= 500:
                raise PaymentUnavailable(message) from error
            raise PaymentInvokeError(message) from error
        if response.get("FunctionError"):  # "Unhandled", or "Handled" from some runtimes
            error_shape = LambdaError.from_payload(raw)
            raise PaymentUnavailable(
                f"Lambda {name} failed: {error_shape.error_type}: {error_shape.error_message}",
                error=error_shape,
            )
        return raw
