"""The order saga: one order's state, and what each event it hears does to it.

The orders agent keeps an OrderState per order_id in its table. For every event it reads it calls
``decide``, stores ``Decision.state`` and produces ``Decision.events``; a timer publishes
``ReservationExpiryDue`` for an order past its deadline, and ``decide`` on that hint expires it.
Outgoing ids derive from the incoming event's id, so an event processed twice (a crash before the
offset commit) yields the same ids, which downstream consumers dedupe. The status changes among
them are not published: ``with_news`` puts them in the stored row, whose changelog the order's
followers read.

What each event does:
    OrderPlaced            PENDING; ReserveStock per line, held until now + reservation_ttl.
    StockReserved          counted; once every line is held: RESERVED and PaymentRequested for
                           the next attempt. An order that no longer wants stock releases it.
    StockRejected          PENDING -> REJECTED; the lines already held are released.
    PaymentSucceeded       RESERVED -> PAID; ShipmentRequested. A payment the order cannot take
                           (wrong attempt, amount or status) is refunded at once.
    PaymentFailed          RESERVED -> PAYMENT_FAILED; every line released (no stock is held
                           while unpaid). Outcomes of superseded attempts are ignored.
    PaymentRetryRequested  PAYMENT_FAILED -> PENDING with the new token, within the order's
                           deadline; stock is reserved again and the next attempt follows.
    ReservationExpiryDue   EXPIRED, and held stock released, if the order is still unpaid past its
                           deadline; otherwise nothing (the timer's hint was late or repeated).
    ShippingAddressChanged the new address is kept, until a shipment is requested (see
                           ``order_status.address_change_refusal``); every ShipmentRequested
                           carries the address the order has when it is sent.
    OrderCancelled         -> CANCELLED from any state before SHIPPED; held stock released, and
                           what was paid refunded.
    PaymentRefunded        the refund of that payment is done (``OrderState.refunds``); counted
                           in ``refunded_cents`` if it is the order's own payment.
    RefundFailed           the refund of that payment failed, with why and whether asking
                           again may help; the order's status stays as it is.
    RefundRetryRequested   every failed refund is requested again: under the same attempt
                           (the same idempotency key) when the provider never answered, so
                           that a refund made meanwhile is answered, not made twice; under the
                           next attempt when it refused. Refused if no refund failed.
    ShipmentDispatched     PAID or SHIPPING_PROBLEM -> SHIPPED; CommitStock per held line (the
                           units leave the shelf).   ShipmentDelivered -> DELIVERED.
    ShippingProblem        the saga asks shipping to try again (attempt + 1) while attempts are
                           below max_shipping_attempts; then SHIPPING_PROBLEM: escalated to
                           support, and the status change tells the customer. Stock and money
                           stay, because support can still ship it; the customer may cancel at
                           any time for a full refund.

An event already processed yields ``duplicate=True`` and nothing else. An event that cannot apply
yields ``refused`` with the reason, the state untouched, so the agent can dead-letter it. A
repeated or superseded answer (a second StockReserved for a held line, the outcome of an older
payment attempt) is not an error: it is recorded and changes nothing.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final, Literal, TypeAlias
from uuid import UUID

from pydantic import ConfigDict, NonNegativeInt, PositiveInt

from streams.contract import (
    Address,
    AnyEvent,
    CommitStock,
    Currency,
    Id,
    Line,
    Lines,
    OrderCancelled,
    OrderNews,
    OrderPlaced,
    OrderStatusChanged,
    PaymentFailed,
    PaymentRefunded,
    PaymentRequested,
    PaymentRetryRequested,
    PaymentSucceeded,
    Record,
    RefundFailed,
    RefundFailureCode,
    RefundRequested,
    RefundRetryRequested,
    ReleaseStock,
    ReservationExpiryDue,
    ReserveStock,
    ShipmentDelivered,
    ShipmentDispatched,
    ShipmentRequested,
    ShippingAddressChanged,
    ShippingProblem,
    StockRejected,
    StockReleased,
    StockReserved,
    Text,
    TraceId,
    UtcDatetime,
    derive,
)
from streams.domain.order_status import (
    OrderStatus,
    TransitionRefused,
    address_change_refusal,
    transition,
)

# States in which the order has not been paid and its reservation deadline applies.
_EXPIRABLE: Final = frozenset(
    {OrderStatus.PENDING, OrderStatus.RESERVED, OrderStatus.PAYMENT_FAILED}
)


@dataclass(frozen=True, slots=True)
class SagaPolicy:
    """The saga's knobs; the agent builds one from the settings."""

    reservation_ttl: timedelta = timedelta(minutes=15)
    max_shipping_attempts: int = 3
    # Ids remembered per order for dedupe; one order hears a few dozen events at most.
    dedupe_window: int = 128

    def __post_init__(self) -> None:
        if self.reservation_ttl <= timedelta(0):
            raise ValueError("reservation_ttl must be positive")
        if self.max_shipping_attempts < 1 or self.dedupe_window < 1:
            raise ValueError("max_shipping_attempts and dedupe_window must be at least 1")


RefundStatus: TypeAlias = Literal["requested", "refunded", "failed"]


class Refund(Record):
    """The refund of one payment, as the order knows it: asked for, made, or failed."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    payment_id: Id
    amount_cents: PositiveInt
    currency: Currency
    # As first asked: a request under the same idempotency key must say the same again.
    reason: Text
    attempt: PositiveInt = 1  # the last requested
    status: RefundStatus = "requested"
    failure_code: RefundFailureCode | None = None
    failure: str | None = None  # why it failed, while it is failed
    retryable: bool = False

    def request(self, order_id: str) -> RefundRequested:
        return RefundRequested(
            order_id=order_id,
            payment_id=self.payment_id,
            amount_cents=self.amount_cents,
            currency=self.currency,
            reason=self.reason,
            attempt=self.attempt,
        )


class OrderState(Record):
    """One order as the saga knows it; stored as JSON in the orders agent's table."""

    # A stored row, read back by newer code: a field since dropped is ignored, not refused.
    model_config = ConfigDict(frozen=True, extra="ignore")

    order_id: Id
    user_id: Id
    status: OrderStatus
    # Why the order is in its status (the reason of the change that brought it there): the
    # read models show it.
    status_reason: str | None = None
    lines: Lines
    total_cents: NonNegativeInt
    currency: Currency
    address: Address
    payment_token: Line
    trace_id: TraceId
    reservation_expires_at: UtcDatetime
    reserved_skus: frozenset[str] = frozenset()  # held for this order, as far as it knows
    payment_attempt: NonNegativeInt = 0  # the last attempt requested
    payment_id: str | None = None
    paid_cents: NonNegativeInt = 0
    refunded_cents: NonNegativeInt = 0
    refunds: tuple[Refund, ...] = ()  # one per payment given back, in the order asked
    shipment_attempts: NonNegativeInt = 0
    tracking_number: str | None = None
    processed_event_ids: tuple[UUID, ...] = ()
    version: NonNegativeInt = 0  # events applied
    updated_at: UtcDatetime
    # The status changes and refunds decided since the row was last stored: its followers
    # read them from the table's changelog (``streams.contract.OrderUpdate``).
    news: tuple[OrderNews, ...] = ()

    @property
    def skus(self) -> frozenset[str]:
        return frozenset(line.sku for line in self.lines)

    @property
    def refund_status(self) -> RefundStatus | None:
        """The order's refunds in one word, the one that needs attention first: ``failed`` if
        any failed, else ``requested`` if any is under way, else ``refunded``; None if none
        was asked for. A row from before refunds were tracked says ``refunded`` if it
        counted one."""
        statuses = {refund.status for refund in self.refunds}
        for status in ("failed", "requested", "refunded"):
            if status in statuses:
                return status
        return "refunded" if self.refunded_cents else None

    @property
    def refund_failure(self) -> str | None:
        """Why the first failed refund failed, if one did."""
        return next((r.failure for r in self.refunds if r.status == "failed"), None)

    def refund_of(self, payment_id: str) -> Refund | None:
        return next((r for r in self.refunds if r.payment_id == payment_id), None)


@dataclass(frozen=True, slots=True)
class Decision:
    """What to store and what to produce. ``refused``: dead-letter the event with this reason."""

    state: OrderState | None
    events: tuple[AnyEvent, ...] = ()
    duplicate: bool = False
    refused: str | None = None


def with_news(
    decision: Decision, event: AnyEvent, earlier: tuple[OrderNews, ...] = ()
) -> tuple[OrderState, tuple[AnyEvent, ...]]:
    """The row to store for a decision that changed the order, and the events to publish.

    The decision's status changes, and a refund the order heard of, are news: they travel in
    the row, after ``earlier`` (the news of the row not stored yet), not on a topic of their
    own. Everything else the decision produced is published.
    """
    if decision.state is None:
        raise ValueError("a refused or duplicate decision stores no row")
    news: list[OrderNews] = [e for e in decision.events if isinstance(e, OrderStatusChanged)]
    if isinstance(event, PaymentRefunded):
        news.append(event)
    published = tuple(item for item in decision.events if not isinstance(item, OrderStatusChanged))
    state = decision.state.model_copy(update={"news": (*earlier, *news)})
    return state, published


class _Refused(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


_Step: TypeAlias = tuple[OrderState, list[AnyEvent]]


def decide(
    state: OrderState | None, event: AnyEvent, now: datetime, policy: SagaPolicy
) -> Decision:
    """Apply one event to the order (``None`` before OrderPlaced); see the module docstring."""
    if state is not None and event.event_id in state.processed_event_ids:
        return Decision(state, duplicate=True)
    try:
        new_state, events = _apply(state, event, now, policy)
    except (_Refused, TransitionRefused) as refusal:
        return Decision(state, refused=refusal.reason)
    seen = (*new_state.processed_event_ids, event.event_id)[-policy.dedupe_window :]
    return _conclude(
        new_state.model_copy(update={"processed_event_ids": seen}),
        events,
        cause_id=event.event_id,
        trace_id=event.trace_id,
        now=now,
    )


def _is_due(state: OrderState, now: datetime) -> bool:
    return state.status in _EXPIRABLE and now >= state.reservation_expires_at


def _expire(state: OrderState) -> _Step:
    deadline = state.reservation_expires_at.isoformat()
    state, events = _move(state, OrderStatus.EXPIRED, f"not paid by {deadline}")
    state, released = _release_held(state, "order expired")
    return state, events + released


def _apply(state: OrderState | None, event: AnyEvent, now: datetime, policy: SagaPolicy) -> _Step:
    if state is None:
        if isinstance(event, OrderPlaced):
            return _placed(event, now, policy)
        raise _Refused(
            f"{event.type} for unknown order {event.key}: an order starts with OrderPlaced"
        )
    match event:
        case OrderPlaced():
            raise _Refused(f"order {event.order_id} was already placed")
        case StockReserved():
            return _stock_reserved(state, event)
        case StockRejected():
            return _stock_rejected(state, event)
        case StockReleased():
            return state, []  # the acknowledgement of a release; nothing follows from it
        case PaymentSucceeded():
            return _payment_succeeded(state, event)
        case PaymentFailed():
            return _payment_failed(state, event)
        case PaymentRefunded():
            return _payment_refunded(state, event)
        case RefundFailed():
            return _refund_failed(state, event)
        case RefundRetryRequested():
            return _refund_retry_requested(state)
        case PaymentRetryRequested():
            return _retry_requested(state, event, now, policy)
        case OrderCancelled():
            return _cancelled(state, event)
        case ShippingAddressChanged():
            return _address_changed(state, event)
        case ReservationExpiryDue():
            # A timer's hint, possibly late or repeated: the order decides if it is still due.
            return _expire(state) if _is_due(state, now) else (state, [])
        case ShipmentDispatched():
            return _dispatched(state, event)
        case ShipmentDelivered():
            return _delivered(state)
        case ShippingProblem():
            return _shipping_problem(state, event, policy)
        case _:
            raise _Refused(f"the order saga does not consume {event.type}")


def _placed(event: OrderPlaced, now: datetime, policy: SagaPolicy) -> _Step:
    state = OrderState(
        order_id=event.order_id,
        user_id=event.user_id,
        status=OrderStatus.PENDING,
        lines=event.lines,
        total_cents=event.total_cents,
        currency=event.currency,
        address=event.shipping_address,
        payment_token=event.payment_token,
        trace_id=event.trace_id,
        reservation_expires_at=now + policy.reservation_ttl,
        updated_at=now,
        status_reason="order placed",
    )
    created = OrderStatusChanged(
        order_id=state.order_id,
        from_status=None,
        to_status=OrderStatus.PENDING,
        reason="order placed",
    )
    return state, [created, *_reserve_all(state)]


def _stock_reserved(state: OrderState, event: StockReserved) -> _Step:
    _require_line(state, event.sku)
    if event.sku in state.reserved_skus:
        return state, []  # the answer to a repeated ReserveStock
    if state.status is not OrderStatus.PENDING:
        # A late answer for an order that no longer wants stock: hand it back at once.
        release = ReleaseStock(
            order_id=state.order_id,
            sku=event.sku,
            quantity=event.quantity,
            reason=f"order is {state.status}",
        )
        return state, [release]
    state = state.model_copy(update={"reserved_skus": state.reserved_skus | {event.sku}})
    if state.reserved_skus != state.skus:
        return state, []
    state, events = _move(state, OrderStatus.RESERVED, "every line reserved")
    # The attempt number is bumped in the same step that requests it, so no attempt is
    # requested twice.
    attempt = state.payment_attempt + 1
    request = PaymentRequested(
        order_id=state.order_id,
        amount_cents=state.total_cents,
        currency=state.currency,
        payment_token=state.payment_token,
        attempt=attempt,
    )
    return state.model_copy(update={"payment_attempt": attempt}), [*events, request]


def _stock_rejected(state: OrderState, event: StockRejected) -> _Step:
    _require_line(state, event.sku)
    if state.status is not OrderStatus.PENDING:
        return state, []  # the order has moved on; a rejection holds nothing to undo
    reason = f"out of stock: {event.sku} (asked {event.requested}, {event.available} available)"
    state, events = _move(state, OrderStatus.REJECTED, reason)
    state, released = _release_held(state, "order rejected: out of stock")
    return state, events + released


def _payment_succeeded(state: OrderState, event: PaymentSucceeded) -> _Step:
    if event.payment_id == state.payment_id:
        return state, []  # the same payment, confirmed again
    expected = (OrderStatus.RESERVED, state.payment_attempt, state.total_cents, state.currency)
    received = (state.status, event.attempt, event.amount_cents, event.currency)
    if received != expected:
        return _refund_unwanted(state, event)
    state, events = _move(state, OrderStatus.PAID, "payment received")
    state = state.model_copy(
        update={"payment_id": event.payment_id, "paid_cents": event.amount_cents}
    )
    shipment = ShipmentRequested(order_id=state.order_id, address=state.address, lines=state.lines)
    return state.model_copy(update={"shipment_attempts": 1}), [*events, shipment]


def _payment_failed(state: OrderState, event: PaymentFailed) -> _Step:
    if event.attempt > state.payment_attempt:
        raise _Refused(
            f"payment attempt {event.attempt} was never requested "
            f"(the last was {state.payment_attempt})"
        )
    if event.attempt < state.payment_attempt or state.status is not OrderStatus.RESERVED:
        return state, []  # an attempt already settled or superseded
    state, events = _move(state, OrderStatus.PAYMENT_FAILED, f"payment failed: {event.code}")
    state, released = _release_held(state, "payment failed")
    return state, events + released


def _payment_refunded(state: OrderState, event: PaymentRefunded) -> _Step:
    refund = state.refund_of(event.payment_id)
    if refund is not None:
        if refund.status == "refunded":
            return state, []  # the same refund, confirmed again (a retry under its key)
        done = refund.model_copy(
            update={"status": "refunded", "failure_code": None, "failure": None}
        )
        state = _with_refund(state, done)
    if event.payment_id != state.payment_id:
        return state, []  # the refund of a payment the order never took
    return state.model_copy(
        update={"refunded_cents": state.refunded_cents + event.amount_cents}
    ), []


def _refund_failed(state: OrderState, event: RefundFailed) -> _Step:
    refund = state.refund_of(event.payment_id)
    if refund is None:
        # Asked for before the row kept its refunds: known from now on, by what failed.
        refund = Refund(
            payment_id=event.payment_id,
            amount_cents=event.amount_cents,
            currency=event.currency,
            reason=f"refund of payment {event.payment_id}",
            attempt=event.attempt,
        )
    if refund.status != "requested" or event.attempt != refund.attempt:
        return state, []  # a refund done, already failed, or superseded
    failed = refund.model_copy(
        update={
            "status": "failed",
            "failure_code": event.code,
            "failure": event.reason,
            "retryable": event.retryable,
        }
    )
    return _with_refund(state, failed), []


def _refund_retry_requested(state: OrderState) -> _Step:
    failed = [refund for refund in state.refunds if refund.status == "failed"]
    if not failed:
        asked = ", ".join(f"{r.payment_id}: {r.status}" for r in state.refunds) or "none asked"
        raise _Refused(f"order {state.order_id} has no failed refund to retry ({asked})")
    requests: list[AnyEvent] = []
    for refund in failed:
        # No answer: the same key, so the provider answers with the refund if it made one.
        # Refused: the provider replays a refusal for its key; only a new one asks anew.
        attempt = refund.attempt if refund.failure_code == "unavailable" else refund.attempt + 1
        again = refund.model_copy(
            update={
                "attempt": attempt,
                "status": "requested",
                "failure_code": None,
                "failure": None,
                "retryable": False,
            }
        )
        state = _with_refund(state, again)
        requests.append(again.request(state.order_id))
    return state, requests


def _retry_requested(
    state: OrderState, event: PaymentRetryRequested, now: datetime, policy: SagaPolicy
) -> _Step:
    state, events = _move(state, OrderStatus.PENDING, "payment retried with a new card")
    if now >= state.reservation_expires_at:
        raise _Refused(f"too late to retry: the order expired at {state.reservation_expires_at}")
    state = state.model_copy(
        update={
            "payment_token": event.payment_token,
            "reservation_expires_at": now + policy.reservation_ttl,
        }
    )
    return state, [*events, *_reserve_all(state)]


def _cancelled(state: OrderState, event: OrderCancelled) -> _Step:
    paid = state.status in {OrderStatus.PAID, OrderStatus.SHIPPING_PROBLEM}
    state, events = _move(state, OrderStatus.CANCELLED, f"cancelled: {event.reason}")
    outstanding = state.paid_cents - state.refunded_cents
    payment_id = state.payment_id
    asked = payment_id is not None and state.refund_of(payment_id) is not None
    if paid and payment_id is not None and outstanding > 0 and not asked:
        refund = Refund(
            payment_id=payment_id,
            amount_cents=outstanding,
            currency=state.currency,
            reason=_reason(f"order cancelled: {event.reason}"),
        )
        state = _with_refund(state, refund)
        events.append(refund.request(state.order_id))
    state, released = _release_held(state, "order cancelled")
    return state, events + released


def _address_changed(state: OrderState, event: ShippingAddressChanged) -> _Step:
    refusal = address_change_refusal(state.status, shipment_requested=state.shipment_attempts > 0)
    if refusal is not None:
        raise _Refused(f"shipping address of {state.order_id} not changed: {refusal}")
    return state.model_copy(update={"address": event.shipping_address}), []


def _dispatched(state: OrderState, event: ShipmentDispatched) -> _Step:
    if state.status is OrderStatus.SHIPPED and event.tracking_number == state.tracking_number:
        return state, []
    state, events = _move(
        state,
        OrderStatus.SHIPPED,
        f"dispatched with {event.carrier}, tracking {event.tracking_number}",
    )
    # The held units are now in the parcel: inventory takes them off the shelf.
    committed: list[AnyEvent] = [
        CommitStock(order_id=state.order_id, sku=line.sku)
        for line in state.lines
        if line.sku in state.reserved_skus
    ]
    state = state.model_copy(
        update={"tracking_number": event.tracking_number, "reserved_skus": frozenset()}
    )
    return state, events + committed


def _delivered(state: OrderState) -> _Step:
    if state.status is OrderStatus.DELIVERED:
        return state, []
    return _move(state, OrderStatus.DELIVERED, "delivered")


def _shipping_problem(state: OrderState, event: ShippingProblem, policy: SagaPolicy) -> _Step:
    if state.status is OrderStatus.SHIPPING_PROBLEM or event.attempt < state.shipment_attempts:
        return state, []  # already escalated, or an attempt that was retried since
    if state.status is not OrderStatus.PAID:
        raise _Refused(f"no shipment is under way: the order is {state.status}")
    if event.attempt > state.shipment_attempts:
        raise _Refused(f"shipment attempt {event.attempt} was never requested")
    if event.attempt >= policy.max_shipping_attempts:
        reason = f"shipping failed {event.attempt} times ({event.reason}); escalated to support"
        return _move(state, OrderStatus.SHIPPING_PROBLEM, reason)
    attempt = event.attempt + 1
    again = ShipmentRequested(
        order_id=state.order_id, address=state.address, lines=state.lines, attempt=attempt
    )
    return state.model_copy(update={"shipment_attempts": attempt}), [again]


# --- helpers ----------------------------------------------------------------------------


def _move(state: OrderState, target: OrderStatus, reason: str) -> _Step:
    """The state in ``target`` and the event telling it; raises TransitionRefused."""
    transition(state.status, target)
    changed = OrderStatusChanged(
        order_id=state.order_id, from_status=state.status, to_status=target, reason=reason
    )
    return state.model_copy(update={"status": target, "status_reason": reason}), [changed]


def _reserve_all(state: OrderState) -> list[AnyEvent]:
    return [
        ReserveStock(
            order_id=state.order_id,
            sku=line.sku,
            quantity=line.quantity,
            expires_at=state.reservation_expires_at,
        )
        for line in state.lines
    ]


def _release_held(state: OrderState, reason: str) -> _Step:
    # In line order, not set order: the derived event ids depend on the position.
    released: list[AnyEvent] = [
        ReleaseStock(order_id=state.order_id, sku=line.sku, quantity=line.quantity, reason=reason)
        for line in state.lines
        if line.sku in state.reserved_skus
    ]
    return state.model_copy(update={"reserved_skus": frozenset()}), released


def _refund_unwanted(state: OrderState, event: PaymentSucceeded) -> _Step:
    if event.amount_cents == 0 or state.refund_of(event.payment_id) is not None:
        return state, []  # nothing was taken, or it is being given back already
    reason = (
        f"payment {event.payment_id} (attempt {event.attempt}, {event.amount_cents} "
        f"{event.currency}) arrived while the order was {state.status} awaiting attempt "
        f"{state.payment_attempt} of {state.total_cents} {state.currency}"
    )
    refund = Refund(
        payment_id=event.payment_id,
        amount_cents=event.amount_cents,
        currency=event.currency,
        reason=_reason(reason),
    )
    return _with_refund(state, refund), [refund.request(state.order_id)]


def _with_refund(state: OrderState, refund: Refund) -> OrderState:
    """The state with ``refund`` in place of the one of its payment, or added after the rest."""
    others = [r for r in state.refunds if r.payment_id != refund.payment_id]
    if len(others) == len(state.refunds):
        return state.model_copy(update={"refunds": (*state.refunds, refund)})
    refunds = tuple(refund if r.payment_id == refund.payment_id else r for r in state.refunds)
    return state.model_copy(update={"refunds": refunds})


def _reason(text: str) -> str:
    # A reason travels in RefundRequested.reason, whose contract ends at 1000 characters (a
    # cancellation's own reason may come close to that on its own).
    return text if len(text) <= 1000 else text[:999] + "…"


def _require_line(state: OrderState, sku: str) -> None:
    if sku not in state.skus:
        raise _Refused(f"order {state.order_id} has no line for {sku}")


def _conclude(
    state: OrderState,
    events: list[AnyEvent],
    *,
    cause_id: UUID,
    trace_id: str,
    now: datetime,
) -> Decision:
    stamped = tuple(
        derive(event, cause_id=cause_id, tag=str(n), trace_id=trace_id, now=now)
        for n, event in enumerate(events)
    )
    concluded = state.model_copy(update={"version": state.version + 1, "updated_at": now})
    return Decision(concluded, stamped)
