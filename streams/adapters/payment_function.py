"""The payment function, written to the AWS Lambda handler contract.

Lambda calls ``handler(event, context)`` (configure the handler as
``streams.adapters.payment_function.handler``); ``payment_package.build_package`` zips this
module with the pure modules it imports, and the same code runs in-process under
``LocalLambdaInvoker``. So it imports only the standard library, the event contract, the
payment rules, the wire models and the Stripe adapter, whose SDK it loads only when used: no
settings, no AWS clients, no logging setup of ours.

Configuration comes from the function's own environment, as a deployed Lambda has no access to
our settings: ``PAYMENT_PROVIDER`` (``simulated``, the default, or ``stripe``),
``STRIPE_API_KEY``, and for the simulation ``SIMULATED_LATE_ANSWER_S`` (how late it answers a
charge of its late-answering test card). ``payment_package.function_environment`` derives them
from the settings.

Bad input never raises: it is answered ``{"status": "invalid", "message": ...}``. An exception
out of the handler means the provider could not be asked or answered something unexpected; the
invoker treats it as an unknown outcome and asks again with the same idempotency key.
"""

from __future__ import annotations

import functools
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Generic, Protocol, TypeAlias, TypeVar

from pydantic import TypeAdapter, ValidationError

from streams.adapters.payment_messages import (
    Charged,
    ChargeRequest,
    Failed,
    Invalid,
    LookupRequest,
    NotFound,
    PaymentFunctionRequest,
    Refunded,
    RefundRequest,
)
from streams.adapters.stripe_provider import StripeProvider

# The domain's id rule (a provider id is a function of its idempotency key): every instance of
# the function gives one charge the same payment id, even once it has forgotten the key.
from streams.domain.payments import (
    ANSWERS_LATE,
    REFUND_FAILS,
    REFUND_FAILURE,
    charge_outcome,
    provider_id,
)

ENV_PROVIDER: Final = "PAYMENT_PROVIDER"
ENV_STRIPE_API_KEY: Final = "STRIPE_API_KEY"
ENV_SIMULATED_LATE_ANSWER_S: Final = "SIMULATED_LATE_ANSWER_S"
# Longer than any timeout a caller of the function would wait (Lambda's own ends at 900 s).
DEFAULT_LATE_ANSWER_S: Final = 30.0

Request: TypeAlias = ChargeRequest | RefundRequest | LookupRequest
_REQUEST: Final = TypeAdapter[Request](PaymentFunctionRequest)


class ConfigurationError(RuntimeError):
    """The function's environment names no usable provider: a deployment mistake."""


class Provider(Protocol):
    def charge(self, request: ChargeRequest) -> Charged | Failed | Invalid: ...

    def refund(self, request: RefundRequest) -> Refunded | Failed | Invalid: ...

    def lookup(self, request: LookupRequest) -> Charged | Failed | NotFound | Invalid:
        """What became of the charge made under the request's key; never charges."""
        ...


@dataclass(slots=True)
class _Payment:
    amount_cents: int
    currency: str
    refunded_cents: int = 0
    refunds_fail: bool = False  # made with a card whose refunds the simulation refuses


_R = TypeVar("_R", ChargeRequest, RefundRequest)
_A = TypeVar("_A", Charged | Failed, Refunded | Failed)


class _Answers(Generic[_R, _A]):
    """What the latest ``size`` idempotency keys were first asked, and answered."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._kept: OrderedDict[str, tuple[_R, _A]] = OrderedDict()

    def replay(self, request: _R) -> _A | Invalid | None:
        kept = self._kept.get(request.idempotency_key)
        if kept is None:
            return None
        first_request, answer = kept
        if first_request != request:
            return Invalid(
                message=f"Idempotency key {request.idempotency_key!r} was first used with other "
                "parameters; keys for idempotent requests can only be reused with the same ones."
            )
        return answer

    def keep(self, request: _R, answer: _A) -> None:
        self._kept[request.idempotency_key] = (request, answer)
        _trim(self._kept, self._size)

    def first(self, key: str) -> tuple[_R, _A] | None:
        """The request first made under ``key``, and its answer; None for a key not known."""
        return self._kept.get(key)


class SimulatedProvider:
    """Stripe's test cards without Stripe: the verdicts of ``streams.domain.payments``.

    Idempotent per key the way Stripe is: the first answer given for a key is replayed for
    every later request with that key (failures included), reusing a key with other
    parameters is refused, and an invalid request leaves no answer behind. Ids are functions
    of the key, so even after the memory below is lost (a cold start, a restart, or the key
    being among the oldest of more than ``remembered``) the same key yields the same id.

    Refunds are checked against the payments this process made (currency, and the total
    refunded never exceeding the charge); a payment it does not know, made before a restart
    or by another instance, is refunded as asked, since the simulation cannot look it up.

    A lookup finds the charges this process remembers; one it has forgotten (a restart,
    another instance) is not found, which a real provider would find. Its own test card
    ``tok_simulatedLateAnswer`` is charged, but the answer comes ``late_answer_s`` later, after
    the caller has given up: the outcome nobody heard, which only a lookup tells.
    """

    def __init__(
        self, *, remembered: int = 10_000, late_answer_s: float = DEFAULT_LATE_ANSWER_S
    ) -> None:
        # The local invoker runs handlers on worker threads, and a timed-out one may still be
        # running when its retry arrives: one lock makes each request atomic.
        self._lock = threading.Lock()
        self._late_answer_s = late_answer_s
        self._remembered = remembered
        self._charges = _Answers[ChargeRequest, Charged | Failed](remembered)
        self._refunds = _Answers[RefundRequest, Refunded | Failed](remembered)
        self._payments: OrderedDict[str, _Payment] = OrderedDict()

    def charge(self, request: ChargeRequest) -> Charged | Failed | Invalid:
        answer = self._charge(request)
        if request.payment_token in ANSWERS_LATE:
            time.sleep(self._late_answer_s)  # outside the lock: a lookup answers meanwhile
        return answer

    def _charge(self, request: ChargeRequest) -> Charged | Failed | Invalid:
        with self._lock:
            replayed = self._charges.replay(request)
            if replayed is not None:
                return replayed
            outcome = charge_outcome(request.payment_token)
            answer: Charged | Failed
            if outcome.failure is None:
                answer = Charged(
                    payment_id=provider_id("pay", request.idempotency_key),
                    amount_cents=request.amount_cents,
                    currency=request.currency,
                )
                self._payments[answer.payment_id] = _Payment(
                    request.amount_cents,
                    request.currency,
                    refunds_fail=request.payment_token.replace(" ", "") in REFUND_FAILS,
                )
                _trim(self._payments, self._remembered)
            else:
                answer = Failed(
                    code=outcome.failure, message=outcome.message, retryable=outcome.retryable
                )
            self._charges.keep(request, answer)
            return answer

    def lookup(self, request: LookupRequest) -> Charged | Failed | NotFound | Invalid:
        with self._lock:
            kept = self._charges.first(request.idempotency_key)
            if kept is None:
                return NotFound()
            charged, answer = kept
            if (charged.order_id, charged.attempt) != (request.order_id, request.attempt):
                return Invalid(
                    message=f"Idempotency key {request.idempotency_key!r} was used for order "
                    f"{charged.order_id} attempt {charged.attempt}, not order "
                    f"{request.order_id} attempt {request.attempt}."
                )
            return answer

    def refund(self, request: RefundRequest) -> Refunded | Failed | Invalid:
        with self._lock:
            replayed = self._refunds.replay(request)
            if replayed is not None:
                return replayed
            payment = self._payments.get(request.payment_id)
            if payment is not None:
                refusal = _refund_refusal(request, payment)
                if refusal is not None:
                    return Invalid(message=refusal)
                if payment.refunds_fail:
                    failed = Failed(
                        code="processing_error", message=REFUND_FAILURE, retryable=False
                    )
                    self._refunds.keep(request, failed)
                    return failed
                payment.refunded_cents += request.amount_cents
            answer = Refunded(
                refund_id=provider_id("re", request.idempotency_key),
                payment_id=request.payment_id,
                amount_cents=request.amount_cents,
                currency=request.currency,
            )
            self._refunds.keep(request, answer)
            return answer


def _trim(store: OrderedDict[str, Any], size: int) -> None:
    while len(store) > size:
        store.popitem(last=False)


def _refund_refusal(request: RefundRequest, payment: _Payment) -> str | None:
    if request.currency != payment.currency:
        return f"Refund currency {request.currency} differs from the payment's {payment.currency}."
    left = payment.amount_cents - payment.refunded_cents
    if request.amount_cents > left:
        return (
            f"Refund amount ({request.amount_cents}) is greater than the unrefunded amount "
            f"of payment {request.payment_id} ({left})."
        )
    return None


class PaymentFunction:
    """The handler's body, bound to one provider; ``handler`` is one built from ``os.environ``."""

    def __init__(self, provider: Provider) -> None:
        self.provider = provider

    @classmethod
    def from_environment(cls, environ: Mapping[str, str]) -> PaymentFunction:
        name = environ.get(ENV_PROVIDER, "simulated")
        if name == "simulated":
            late = environ.get(ENV_SIMULATED_LATE_ANSWER_S, str(DEFAULT_LATE_ANSWER_S))
            try:
                late_answer_s = float(late)
            except ValueError:
                raise ConfigurationError(
                    f"{ENV_SIMULATED_LATE_ANSWER_S}={late!r} is not a number of seconds"
                ) from None
            return cls(SimulatedProvider(late_answer_s=late_answer_s))
        if name == "stripe":
            api_key = environ.get(ENV_STRIPE_API_KEY, "")
            if not api_key:
                raise ConfigurationError(f"{ENV_PROVIDER}=stripe needs {ENV_STRIPE_API_KEY}")
            return cls(StripeProvider(api_key))
        raise ConfigurationError(
            f"{ENV_PROVIDER}={name!r}: the payment function knows 'simulated' and 'stripe'"
        )

    def __call__(self, event: object, context: object) -> dict[str, Any]:
        try:
            request = parse_request(event)
        except InvalidRequest as error:
            return Invalid(message=str(error)).model_dump(mode="json")
        answer: Charged | Refunded | Failed | NotFound | Invalid
        match request:
            case ChargeRequest():
                answer = self.provider.charge(request)
            case RefundRequest():
                answer = self.provider.refund(request)
            case LookupRequest():
                answer = self.provider.lookup(request)
        return answer.model_dump(mode="json")


class InvalidRequest(ValueError):
    pass


def parse_request(event: object) -> Request:
    """The request in a Lambda event, or InvalidRequest saying what is wrong with it."""
    if not isinstance(event, dict):
        raise InvalidRequest(f"the event must be a JSON object, not {type(event).__name__}")
    try:
        return _REQUEST.validate_python(event)
    except ValidationError as error:
        problems = []
        for item in error.errors(include_url=False):
            where = ".".join(str(part) for part in item["loc"])
            problems.append(f"{where}: {item['msg']}" if where else item["msg"])
        raise InvalidRequest("; ".join(problems)) from None


def handler(event: object, context: object) -> dict[str, Any]:
    """The Lambda entry point."""
    return _configured()(event, context)


@functools.cache
def _configured() -> PaymentFunction:
    # Built on the first call and kept, with the simulation's memory: a Lambda environment does
    # not change while its process lives. A configuration error is raised on every call.
    return PaymentFunction.from_environment(os.environ)
