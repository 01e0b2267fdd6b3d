from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from uuid import uuid4

import pytest

from streams.contract import (
    Address,
    AnyEvent,
    CommitStock,
    EventBase,
    OrderCancelled,
    OrderLine,
    OrderPlaced,
    OrderStatusChanged,
    PaymentFailed,
    PaymentRefunded,
    PaymentRequested,
    PaymentRetryRequested,
    PaymentSucceeded,
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
)
from streams.domain.order_saga import (
    Decision,
    OrderState,
    SagaPolicy,
    decide,
    with_news,
)
from streams.domain.order_status import OrderStatus

S = OrderStatus
T0 = datetime(2025, 3, 1, 12, tzinfo=UTC)
TTL = timedelta(minutes=15)
POLICY = SagaPolicy(reservation_ttl=TTL, max_shipping_attempts=3, dedupe_window=16)
TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
LINES = (
    OrderLine(sku="MUG", quantity=2, unit_price_cents=1250),
    OrderLine(sku="TEE", quantity=1, unit_price_cents=2000),
)
TOTAL = 4500
ADDRESS = Address(name="Ada", line1="1 Main St", city="Berlin", postal_code="10115", country="DE")

E = TypeVar("E", bound=EventBase)


def placed(card: str = "tok_visa") -> OrderPlaced:
    return OrderPlaced(
        order_id="ord-1",
        user_id="usr-1",
        lines=LINES,
        total_cents=TOTAL,
        currency="EUR",
        shipping_address=ADDRESS,
        payment_token=card,
        trace_id=TRACE,
    )


def reserved(sku: str) -> StockReserved:
    quantity = next(line.quantity for line in LINES if line.sku == sku)
    return StockReserved(order_id="ord-1", sku=sku, quantity=quantity, expires_at=T0 + TTL)


def rejected(sku: str) -> StockRejected:
    return StockRejected(order_id="ord-1", sku=sku, requested=1, available=0)


def succeeded(attempt: int = 1, payment_id: str = "pay-1", amount: int = TOTAL) -> PaymentSucceeded:
    return PaymentSucceeded(
        order_id="ord-1",
        payment_id=payment_id,
        amount_cents=amount,
        currency="EUR",
        attempt=attempt,
    )


def failed(attempt: int = 1) -> PaymentFailed:
    return PaymentFailed(
        order_id="ord-1", code="card_declined", message="declined", retryable=False, attempt=attempt
    )


def problem(attempt: int) -> ShippingProblem:
    return ShippingProblem(order_id="ord-1", reason="carrier refused the parcel", attempt=attempt)


def dispatched() -> ShipmentDispatched:
    return ShipmentDispatched(order_id="ord-1", carrier="DHL", tracking_number="JD0146")


def cancelled() -> OrderCancelled:
    return OrderCancelled(order_id="ord-1", reason="changed my mind")


def of_type(decision: Decision, kind: type[E]) -> list[E]:
    return [event for event in decision.events if isinstance(event, kind)]


def moves(decision: Decision) -> list[tuple[OrderStatus | None, OrderStatus]]:
    return [(e.from_status, e.to_status) for e in of_type(decision, OrderStatusChanged)]


def released_skus(decision: Decision) -> list[str]:
    return [release.sku for release in of_type(decision, ReleaseStock)]


@dataclass
class Order:
    """Drives one order through the saga, failing loudly on any refusal."""

    now: datetime = T0
    state: OrderState | None = None
    decisions: list[Decision] = field(default_factory=list)

    def hear(self, *events: AnyEvent) -> Decision:
        for event in events:
            decision = decide(self.state, event, self.now, POLICY)
            assert decision.refused is None, decision.refused
            self.state = decision.state
            self.decisions.append(decision)
        return self.decisions[-1]

    def refuses(self, event: AnyEvent) -> str:
        decision = decide(self.state, event, self.now, POLICY)
        assert decision.refused is not None
        assert decision.state == self.state
        assert decision.events == ()
        return decision.refused

    @property
    def status(self) -> OrderStatus:
        assert self.state is not None
        return self.state.status

    @property
    def current(self) -> OrderState:
        assert self.state is not None
        return self.state


def reserved_order() -> Order:
    order = Order()
    order.hear(placed(), reserved("MUG"), reserved("TEE"))
    return order


def paid_order() -> Order:
    order = reserved_order()
    order.hear(succeeded())
    return order


def expiry_hint(state: OrderState) -> ReservationExpiryDue:
    """The hint the orders agent's timer publishes for an order it sees past its deadline."""
    return ReservationExpiryDue(order_id=state.order_id, trace_id=state.trace_id)


def hear_expiry_hint(state: OrderState, now: datetime) -> Decision:
    """What the saga does with the timer's hint heard at ``now``."""
    decision = decide(state, expiry_hint(state), now, POLICY)
    assert decision.refused is None, decision.refused
    return decision


# --- placing and reserving --------------------------------------------------------------


def test_placing_an_order_makes_it_pending_and_reserves_every_line_until_the_ttl() -> None:
    decision = Order().hear(placed())
    assert decision.state is not None
    assert decision.state.status is S.PENDING
    assert moves(decision) == [(None, S.PENDING)]
    commands = of_type(decision, ReserveStock)
    assert [(c.sku, c.quantity, c.key) for c in commands] == [("MUG", 2, "MUG"), ("TEE", 1, "TEE")]
    assert {c.expires_at for c in commands} == {T0 + TTL}
    assert decision.state.reservation_expires_at == T0 + TTL


def test_outgoing_events_carry_the_cause_trace_the_decision_time_and_fresh_ids() -> None:
    decision = Order().hear(placed())
    assert {e.trace_id for e in decision.events} == {TRACE}
    assert {e.occurred_at for e in decision.events} == {T0}
    assert {e.key for e in decision.events if e.key_field == "order_id"} == {"ord-1"}
    assert len({e.event_id for e in decision.events}) == len(decision.events)


def test_payment_is_requested_only_once_every_line_is_reserved() -> None:
    order = Order()
    order.hear(placed())
    first = order.hear(reserved("MUG"))
    assert first.events == ()
    assert order.status is S.PENDING
    second = order.hear(reserved("TEE"))
    assert moves(second) == [(S.PENDING, S.RESERVED)]
    [request] = of_type(second, PaymentRequested)
    assert (request.amount_cents, request.currency, request.payment_token, request.attempt) == (
        TOTAL,
        "EUR",
        "tok_visa",
        1,
    )


def test_a_repeated_reservation_answer_requests_no_second_payment() -> None:
    order = reserved_order()
    again = order.hear(reserved("TEE"), reserved("MUG"))
    assert again.events == ()
    requests = [r for d in order.decisions for r in of_type(d, PaymentRequested)]
    assert len(requests) == 1


# --- the happy path ---------------------------------------------------------------------


def test_happy_path_from_placed_to_delivered() -> None:
    order = reserved_order()
    paid = order.hear(succeeded())
    assert moves(paid) == [(S.RESERVED, S.PAID)]
    [shipment] = of_type(paid, ShipmentRequested)
    assert (shipment.address, shipment.lines, shipment.attempt) == (ADDRESS, LINES, 1)
    assert (order.current.payment_id, order.current.paid_cents) == ("pay-1", TOTAL)

    shipped = order.hear(dispatched())
    assert moves(shipped) == [(S.PAID, S.SHIPPED)]
    assert order.current.tracking_number == "JD0146"

    delivered = order.hear(ShipmentDelivered(order_id="ord-1"))
    assert moves(delivered) == [(S.SHIPPED, S.DELIVERED)]
    history = [move for decision in order.decisions for move in moves(decision)]
    assert [to for _, to in history] == [S.PENDING, S.RESERVED, S.PAID, S.SHIPPED, S.DELIVERED]
    assert not any(of_type(d, ReleaseStock) or of_type(d, RefundRequested) for d in order.decisions)


# --- out of stock -----------------------------------------------------------------------


def test_out_of_stock_rejects_the_order_and_releases_lines_already_reserved() -> None:
    order = Order()
    order.hear(placed(), reserved("MUG"))
    decision = order.hear(rejected("TEE"))
    assert moves(decision) == [(S.PENDING, S.REJECTED)]
    assert released_skus(decision) == ["MUG"]
    assert order.current.reserved_skus == frozenset()
    assert not any(of_type(d, PaymentRequested) for d in order.decisions)


def test_a_reservation_arriving_after_rejection_is_released_at_once() -> None:
    order = Order()
    order.hear(placed(), rejected("TEE"))
    late = order.hear(reserved("MUG"))
    assert released_skus(late) == ["MUG"]
    assert of_type(late, ReleaseStock)[0].quantity == 2
    assert order.status is S.REJECTED


@pytest.mark.parametrize("ending", ["cancelled", "expired"])
def test_a_reservation_arriving_after_the_order_ended_is_released_at_once(ending: str) -> None:
    order = Order()
    order.hear(placed())
    if ending == "cancelled":
        order.hear(cancelled())
    else:
        order.state = hear_expiry_hint(order.current, T0 + TTL).state
    late = order.hear(reserved("MUG"))
    assert released_skus(late) == ["MUG"]
    assert order.status is S(ending)


def test_a_second_rejection_of_a_rejected_order_changes_nothing() -> None:
    order = Order()
    order.hear(placed(), rejected("MUG"))
    assert order.hear(rejected("TEE")).events == ()
    assert order.status is S.REJECTED


# --- payment failure and retry ----------------------------------------------------------


def test_a_declined_payment_releases_all_stock() -> None:
    order = reserved_order()
    decision = order.hear(failed())
    assert moves(decision) == [(S.RESERVED, S.PAYMENT_FAILED)]
    assert released_skus(decision) == ["MUG", "TEE"]
    assert order.current.reserved_skus == frozenset()


def test_declined_then_retried_with_a_new_card_then_paid() -> None:
    order = reserved_order()
    order.hear(failed())
    order.now = T0 + timedelta(minutes=5)
    retry = order.hear(PaymentRetryRequested(order_id="ord-1", payment_token="tok_mastercard"))
    assert moves(retry) == [(S.PAYMENT_FAILED, S.PENDING)]
    assert [c.sku for c in of_type(retry, ReserveStock)] == ["MUG", "TEE"]
    assert {c.expires_at for c in of_type(retry, ReserveStock)} == {order.now + TTL}

    again = order.hear(reserved("MUG"), reserved("TEE"))
    [request] = of_type(again, PaymentRequested)
    assert (request.attempt, request.payment_token) == (2, "tok_mastercard")

    paid = order.hear(succeeded(attempt=2, payment_id="pay-2"))
    assert moves(paid) == [(S.RESERVED, S.PAID)]
    attempts = [r.attempt for d in order.decisions for r in of_type(d, PaymentRequested)]
    assert attempts == [1, 2]


def test_a_retry_is_refused_unless_the_payment_failed() -> None:
    reason = reserved_order().refuses(PaymentRetryRequested(order_id="ord-1", payment_token="t"))
    assert reason.startswith("cannot go from reserved to pending")


def test_a_retry_after_the_deadline_is_refused() -> None:
    order = reserved_order()
    order.hear(failed())
    order.now = T0 + TTL
    reason = order.refuses(PaymentRetryRequested(order_id="ord-1", payment_token="t"))
    assert reason.startswith("too late to retry")


def test_the_failure_of_a_superseded_attempt_is_ignored() -> None:
    order = reserved_order()
    order.hear(failed(attempt=1), PaymentRetryRequested(order_id="ord-1", payment_token="t"))
    order.hear(reserved("MUG"), reserved("TEE"))
    stale = order.hear(failed(attempt=1))
    assert stale.events == ()
    assert order.status is S.RESERVED


def test_the_failure_of_an_attempt_never_requested_is_refused() -> None:
    assert "never requested" in reserved_order().refuses(failed(attempt=2))


# --- payments the order cannot keep -----------------------------------------------------


def test_a_payment_arriving_after_cancellation_is_refunded() -> None:
    order = reserved_order()
    order.hear(cancelled())
    decision = order.hear(succeeded())
    [refund] = of_type(decision, RefundRequested)
    assert (refund.payment_id, refund.amount_cents, refund.currency) == ("pay-1", TOTAL, "EUR")
    assert order.status is S.CANCELLED
    assert moves(decision) == []


@pytest.mark.parametrize(
    "payment",
    [succeeded(amount=TOTAL - 1), succeeded(attempt=2)],
    ids=["wrong-amount", "unrequested-attempt"],
)
def test_a_payment_that_does_not_match_the_request_is_refunded(payment: PaymentSucceeded) -> None:
    order = reserved_order()
    decision = order.hear(payment)
    assert [r.amount_cents for r in of_type(decision, RefundRequested)] == [payment.amount_cents]
    assert order.status is S.RESERVED


def test_the_same_payment_confirmed_twice_ships_once() -> None:
    order = paid_order()
    assert order.hear(succeeded()).events == ()
    shipments = [s for d in order.decisions for s in of_type(d, ShipmentRequested)]
    assert len(shipments) == 1


def test_a_confirmed_refund_of_the_orders_payment_is_counted() -> None:
    order = paid_order()
    refund = PaymentRefunded(
        order_id="ord-1", refund_id="re-1", payment_id="pay-1", amount_cents=TOTAL, currency="EUR"
    )
    order.hear(refund)
    assert order.current.refunded_cents == TOTAL
    stray = refund.model_copy(update={"event_id": uuid4(), "payment_id": "pay-other"})
    order.hear(stray)
    assert order.current.refunded_cents == TOTAL


# --- refunds: requested, made, failed, retried ------------------------------------------


def refunded(payment_id: str = "pay-1", amount: int = TOTAL) -> PaymentRefunded:
    return PaymentRefunded(
        order_id="ord-1",
        refund_id="re-1",
        payment_id=payment_id,
        amount_cents=amount,
        currency="EUR",
    )


def refund_failed(
    code: RefundFailureCode = "refused", attempt: int = 1, retryable: bool = False
) -> RefundFailed:
    return RefundFailed(
        order_id="ord-1",
        payment_id="pay-1",
        amount_cents=TOTAL,
        currency="EUR",
        attempt=attempt,
        code=code,
        reason="processing_error: the card is expired",
        retryable=retryable,
    )


def refund_status(order: Order) -> str | None:
    # Read afresh: a type checker would keep what an earlier assert on the property said.
    return order.current.refund_status


def retry_refund() -> RefundRetryRequested:
    return RefundRetryRequested(order_id="ord-1", reason="retried by an operator")


def cancelled_paid_order() -> Order:
    order = paid_order()
    order.hear(cancelled())
    return order


def test_a_refund_asked_for_is_on_the_order_as_requested_until_it_is_made() -> None:
    order = cancelled_paid_order()
    [refund] = order.current.refunds
    assert (refund.payment_id, refund.amount_cents, refund.attempt, refund.status) == (
        "pay-1",
        TOTAL,
        1,
        "requested",
    )
    assert order.current.refund_status == "requested"

    order.hear(refunded())
    assert refund_status(order) == "refunded"
    assert order.current.refunded_cents == TOTAL


def test_a_failed_refund_is_recorded_with_why_and_the_status_stays() -> None:
    order = cancelled_paid_order()
    decision = order.hear(refund_failed(retryable=True))
    assert decision.events == ()
    assert order.status is S.CANCELLED
    assert order.current.refund_status == "failed"
    assert order.current.refund_failure == "processing_error: the card is expired"
    [refund] = order.current.refunds
    assert (refund.failure_code, refund.retryable) == ("refused", True)
    assert order.current.refunded_cents == 0


def test_the_failure_of_a_superseded_refund_attempt_changes_nothing() -> None:
    order = cancelled_paid_order()
    order.hear(refund_failed(), retry_refund())
    before = order.current.refunds
    order.hear(refund_failed(attempt=1).model_copy(update={"event_id": uuid4()}))
    assert order.current.refunds == before
    assert order.current.refund_status == "requested"


def test_a_refused_refund_is_retried_under_the_next_attempt_with_the_same_request() -> None:
    order = cancelled_paid_order()
    [first] = of_type(order.decisions[-1], RefundRequested)
    order.hear(refund_failed("refused"))

    [again] = of_type(order.hear(retry_refund()), RefundRequested)

    assert again.attempt == 2
    assert (again.payment_id, again.amount_cents, again.currency, again.reason) == (
        first.payment_id,
        first.amount_cents,
        first.currency,
        first.reason,
    )
    assert order.current.refund_status == "requested"
    assert order.current.refund_failure is None


def test_a_refund_nobody_answered_is_retried_under_the_same_attempt_and_key() -> None:
    order = cancelled_paid_order()
    order.hear(refund_failed("unavailable", retryable=True))
    [again] = of_type(order.hear(retry_refund()), RefundRequested)
    # The same attempt is the same idempotency key: a refund made meanwhile is answered again.
    assert again.attempt == 1


def test_a_retried_refund_once_made_is_counted_once_however_often_confirmed() -> None:
    order = cancelled_paid_order()
    order.hear(refund_failed("unavailable", retryable=True), retry_refund(), refunded())
    order.hear(refunded().model_copy(update={"event_id": uuid4()}))  # replayed under its key
    assert order.current.refund_status == "refunded"
    assert order.current.refunded_cents == TOTAL


def test_the_failure_of_a_refund_asked_for_before_refunds_were_kept_is_recorded() -> None:
    order = cancelled_paid_order()
    order.state = order.current.model_copy(update={"refunds": ()})  # a row from before
    order.hear(refund_failed())
    assert order.current.refund_status == "failed"
    [again] = of_type(order.hear(retry_refund()), RefundRequested)
    assert (again.payment_id, again.amount_cents, again.attempt) == ("pay-1", TOTAL, 2)


def test_a_refund_retry_without_a_failed_refund_is_refused() -> None:
    assert "no failed refund" in cancelled_paid_order().refuses(retry_refund())
    assert "none asked" in paid_order().refuses(retry_refund())


def test_a_payment_the_order_cannot_keep_is_refunded_once_and_tracked() -> None:
    order = reserved_order()
    order.hear(cancelled())
    first = order.hear(succeeded())
    again = order.hear(succeeded().model_copy(update={"event_id": uuid4()}))
    assert len(of_type(first, RefundRequested)) == 1
    assert of_type(again, RefundRequested) == []
    assert order.current.refund_status == "requested"
    order.hear(refunded())
    assert refund_status(order) == "refunded"
    # Not the order's payment: nothing was paid for the order, nothing counts as refunded.
    assert order.current.refunded_cents == 0


def test_a_row_from_before_refunds_were_tracked_still_says_it_was_refunded() -> None:
    row = paid_order().current.model_copy(update={"refunded_cents": TOTAL, "refunds": ()})
    assert row.refund_status == "refunded"
    assert paid_order().current.refund_status is None


def test_a_long_cancellation_reason_still_asks_for_a_refund_within_the_contract() -> None:
    order = paid_order()
    # Short enough for the status change's reason, too long once the refund prefixes it.
    long = cancelled().model_copy(update={"reason": "x" * 985})
    [refund] = of_type(order.hear(long), RefundRequested)
    assert len(refund.reason) == 1000


# --- news: what the stored row tells its followers --------------------------------------


def test_status_changes_go_into_the_row_as_news_and_are_not_published() -> None:
    order = reserved_order()
    decision = order.hear(succeeded())

    row, published = with_news(decision, succeeded())

    assert row.news == tuple(of_type(decision, OrderStatusChanged))
    assert [(c.from_status, c.to_status) for c in of_type(decision, OrderStatusChanged)] == [
        (S.RESERVED, S.PAID)
    ]
    assert [type(event) for event in published] == [ShipmentRequested]


def test_news_not_stored_yet_is_kept_before_the_next_decisions_news() -> None:
    order = Order()
    first, _ = with_news(order.hear(placed()), placed())
    order.hear(reserved("MUG"))
    last = reserved("TEE")

    row, _ = with_news(order.hear(last), last, first.news)

    assert [c.to_status for c in row.news if isinstance(c, OrderStatusChanged)] == [
        S.PENDING,
        S.RESERVED,
    ]


def test_a_refund_the_order_hears_of_is_news_even_when_its_status_stays() -> None:
    order = paid_order()
    refund = PaymentRefunded(
        order_id="ord-1", refund_id="re-1", payment_id="pay-1", amount_cents=TOTAL, currency="EUR"
    )

    row, published = with_news(order.hear(refund), refund)

    assert row.news == (refund,) and published == ()


def test_a_refused_decision_stores_no_news() -> None:
    refused = decide(None, succeeded(), T0, POLICY)

    assert refused.refused is not None
    with pytest.raises(ValueError, match="stores no row"):
        with_news(refused, succeeded())


# --- cancellation -----------------------------------------------------------------------


def test_cancelling_a_pending_order_releases_only_what_is_held() -> None:
    order = Order()
    order.hear(placed(), reserved("TEE"))
    decision = order.hear(cancelled())
    assert moves(decision) == [(S.PENDING, S.CANCELLED)]
    assert released_skus(decision) == ["TEE"]
    assert of_type(decision, RefundRequested) == []


def test_cancelling_a_reserved_order_releases_every_line_without_refund() -> None:
    decision = reserved_order().hear(cancelled())
    assert released_skus(decision) == ["MUG", "TEE"]
    assert of_type(decision, RefundRequested) == []


def test_cancelling_after_a_failed_payment_has_nothing_to_release() -> None:
    order = reserved_order()
    order.hear(failed())
    decision = order.hear(cancelled())
    assert moves(decision) == [(S.PAYMENT_FAILED, S.CANCELLED)]
    assert released_skus(decision) == []


def test_cancelling_a_paid_order_refunds_the_full_amount_and_releases_the_stock() -> None:
    decision = paid_order().hear(cancelled())
    assert moves(decision) == [(S.PAID, S.CANCELLED)]
    [refund] = of_type(decision, RefundRequested)
    assert (refund.payment_id, refund.amount_cents) == ("pay-1", TOTAL)
    assert released_skus(decision) == ["MUG", "TEE"]


def test_cancelling_a_shipped_order_is_refused_and_changes_nothing() -> None:
    order = paid_order()
    order.hear(dispatched())
    reason = order.refuses(cancelled())
    assert reason == (
        "cannot go from shipped to cancelled: "
        "the parcel has left the warehouse; ask for a return instead"
    )


# --- changing the shipping address ------------------------------------------------------

NEW_ADDRESS = ADDRESS.model_copy(update={"line1": "2 New Street", "postal_code": "10117"})


def address_changed() -> ShippingAddressChanged:
    return ShippingAddressChanged(order_id="ord-1", shipping_address=NEW_ADDRESS)


def pending_order() -> Order:
    order = Order()
    order.hear(placed())
    return order


def payment_failed_order() -> Order:
    order = reserved_order()
    order.hear(failed())
    return order


@pytest.mark.parametrize(
    ("make", "status"),
    [
        (pending_order, S.PENDING),
        (reserved_order, S.RESERVED),
        (payment_failed_order, S.PAYMENT_FAILED),
    ],
)
def test_the_address_changes_while_no_shipment_is_requested(make: Any, status: S) -> None:
    order: Order = make()
    decision = order.hear(address_changed())
    assert order.status is status
    assert order.current.address == NEW_ADDRESS
    # Nothing else moves: no status change, no stock or payment traffic.
    assert decision.events == ()


def test_a_paid_order_whose_shipment_is_not_yet_requested_takes_the_new_address() -> None:
    # Not reachable through the saga today (it requests the shipment with the payment), but
    # the rule is about the request, not the status.
    order = paid_order()
    order.state = order.current.model_copy(update={"shipment_attempts": 0})
    order.hear(address_changed())
    assert order.current.address == NEW_ADDRESS


def test_the_shipment_requested_after_a_change_carries_the_new_address() -> None:
    order = payment_failed_order()
    order.hear(address_changed())
    order.hear(PaymentRetryRequested(order_id="ord-1", payment_token="tok_mastercard"))
    order.hear(reserved("MUG"), reserved("TEE"))
    decision = order.hear(succeeded(attempt=2))
    [shipment] = of_type(decision, ShipmentRequested)
    assert shipment.address == NEW_ADDRESS


def _escalated() -> Order:
    order = paid_order()
    order.hear(problem(1), problem(2), problem(3))
    return order


def _shipped() -> Order:
    order = paid_order()
    order.hear(dispatched())
    return order


def _delivered() -> Order:
    order = _shipped()
    order.hear(ShipmentDelivered(order_id="ord-1"))
    return order


def _cancelled() -> Order:
    order = reserved_order()
    order.hear(cancelled())
    return order


def _rejected() -> Order:
    order = pending_order()
    order.hear(rejected("MUG"))
    return order


def _expired() -> Order:
    order = pending_order()
    order.state = hear_expiry_hint(order.current, T0 + TTL).state
    assert order.status is S.EXPIRED
    return order


@pytest.mark.parametrize(
    ("make", "why"),
    [
        (paid_order, "shipment was already requested"),
        (_escalated, "shipment was already requested"),
        (_shipped, "left the warehouse"),
        (_delivered, "left the warehouse"),
        (_cancelled, "the order is cancelled"),
        (_rejected, "the order is rejected"),
        (_expired, "the order is expired"),
    ],
    ids=["paid", "shipping_problem", "shipped", "delivered", "cancelled", "rejected", "expired"],
)
def test_the_address_change_is_refused_once_a_shipment_was_requested_or_the_order_ended(
    make: Any, why: str
) -> None:
    order: Order = make()
    # ``refuses`` also proves the state is untouched and nothing is emitted.
    reason = order.refuses(address_changed())
    assert why in reason
    assert "ord-1" in reason
    assert order.current.address == ADDRESS


# --- shipping problems ------------------------------------------------------------------


def test_a_shipping_problem_is_retried_then_escalated_at_the_limit() -> None:
    order = paid_order()
    first = order.hear(problem(1))
    assert order.status is S.PAID
    assert [s.attempt for s in of_type(first, ShipmentRequested)] == [2]
    second = order.hear(problem(2))
    assert [s.attempt for s in of_type(second, ShipmentRequested)] == [3]

    escalated = order.hear(problem(3))
    assert moves(escalated) == [(S.PAID, S.SHIPPING_PROBLEM)]
    [change] = of_type(escalated, OrderStatusChanged)
    assert "escalated to support" in change.reason
    # Escalation keeps the stock and the money: support may still ship it.
    assert of_type(escalated, ShipmentRequested) == []
    assert of_type(escalated, RefundRequested) == []
    assert released_skus(escalated) == []


def test_an_escalated_order_can_still_ship() -> None:
    order = paid_order()
    order.hear(problem(1), problem(2), problem(3))
    assert moves(order.hear(dispatched())) == [(S.SHIPPING_PROBLEM, S.SHIPPED)]


def test_cancelling_an_escalated_order_refunds_and_releases() -> None:
    order = paid_order()
    order.hear(problem(1), problem(2), problem(3))
    decision = order.hear(cancelled())
    assert [r.amount_cents for r in of_type(decision, RefundRequested)] == [TOTAL]
    assert released_skus(decision) == ["MUG", "TEE"]


def test_a_problem_with_an_attempt_already_retried_is_ignored() -> None:
    order = paid_order()
    order.hear(problem(1))
    assert order.hear(problem(1).model_copy(update={"event_id": uuid4()})).events == ()
    assert order.current.shipment_attempts == 2


def test_a_problem_with_an_attempt_never_requested_is_refused() -> None:
    assert "never requested" in paid_order().refuses(problem(2))


def test_a_shipping_problem_before_payment_is_refused() -> None:
    assert "no shipment is under way" in reserved_order().refuses(problem(1))


# --- expiry -----------------------------------------------------------------------------


def test_a_pending_order_expires_at_its_deadline_releasing_what_it_holds() -> None:
    order = Order()
    order.hear(placed(), reserved("MUG"))
    early = hear_expiry_hint(order.current, T0 + TTL - timedelta(seconds=1))
    assert early.events == ()
    assert early.state is not None and early.state.status is S.PENDING
    decision = hear_expiry_hint(order.current, T0 + TTL)
    assert moves(decision) == [(S.PENDING, S.EXPIRED)]
    assert released_skus(decision) == ["MUG"]
    assert {e.trace_id for e in decision.events} == {TRACE}


def test_a_reserved_order_left_unpaid_expires_and_releases_every_line() -> None:
    decision = hear_expiry_hint(reserved_order().current, T0 + TTL)
    assert released_skus(decision) == ["MUG", "TEE"]


def test_an_order_whose_payment_failed_expires_with_nothing_to_release() -> None:
    order = reserved_order()
    order.hear(failed())
    decision = hear_expiry_hint(order.current, T0 + TTL)
    assert moves(decision) == [(S.PAYMENT_FAILED, S.EXPIRED)]
    assert released_skus(decision) == []


def test_a_paid_order_never_expires() -> None:
    decision = hear_expiry_hint(paid_order().current, T0 + 100 * TTL)
    assert decision.events == ()
    assert decision.state is not None and decision.state.status is S.PAID


def test_expiring_the_same_state_twice_emits_the_same_event_ids() -> None:
    # The same hint redelivered onto the same state (a crash before the offset commit).
    state = reserved_order().current
    hint = expiry_hint(state)
    first, second = decide(state, hint, T0 + TTL, POLICY), decide(state, hint, T0 + TTL, POLICY)
    assert moves(first) == [(S.RESERVED, S.EXPIRED)]
    assert [e.event_id for e in first.events] == [e.event_id for e in second.events]


# --- idempotency and refusals -----------------------------------------------------------


def test_an_event_already_processed_is_a_duplicate_no_op() -> None:
    order = Order()
    event = placed()
    order.hear(event, reserved("MUG"))
    again = decide(order.state, event, T0, POLICY)
    assert again.duplicate
    assert again.events == ()
    assert again.state == order.state
    assert again.refused is None


def test_a_redelivered_reservation_answer_is_a_duplicate_no_op() -> None:
    order = Order()
    answer = reserved("MUG")
    order.hear(placed(), answer)
    assert decide(order.state, answer, T0, POLICY).duplicate


def test_replaying_an_event_against_the_same_state_emits_the_same_event_ids() -> None:
    state = reserved_order().current
    payment = succeeded()
    first, second = decide(state, payment, T0, POLICY), decide(state, payment, T0, POLICY)
    assert [e.event_id for e in first.events] == [e.event_id for e in second.events]


def test_the_memory_of_processed_ids_is_bounded_by_the_policy() -> None:
    order = reserved_order()
    acks = [StockReleased(order_id="ord-1", sku="MUG", quantity=0) for _ in range(40)]
    order.hear(*acks)
    window = POLICY.dedupe_window
    assert order.current.processed_event_ids == tuple(ack.event_id for ack in acks[-window:])


def test_each_applied_event_bumps_the_version_and_the_time() -> None:
    order = Order()
    order.hear(placed())
    assert order.current.version == 1
    order.now = T0 + timedelta(seconds=5)
    order.hear(reserved("MUG"))
    assert (order.current.version, order.current.updated_at) == (2, order.now)


def test_an_event_for_an_unknown_order_is_refused() -> None:
    assert "unknown order ord-1" in Order().refuses(reserved("MUG"))


def test_placing_the_same_order_twice_is_refused() -> None:
    order = Order()
    order.hear(placed())
    assert order.refuses(placed()) == "order ord-1 was already placed"


def test_an_answer_for_a_sku_the_order_does_not_have_is_refused() -> None:
    order = Order()
    order.hear(placed())
    refused = StockReserved(order_id="ord-1", sku="HAT", quantity=1, expires_at=T0)
    assert order.refuses(refused) == "order ord-1 has no line for HAT"


def test_records_the_saga_does_not_consume_are_refused() -> None:
    order = reserved_order()
    command = ReserveStock(order_id="ord-1", sku="MUG", quantity=2, expires_at=T0)
    assert order.refuses(command) == "the order saga does not consume ReserveStock"


def test_the_order_state_survives_a_json_round_trip_for_the_table() -> None:
    state = paid_order().current
    assert OrderState.model_validate_json(state.model_dump_json()) == state


@pytest.mark.parametrize(
    "knobs",
    [
        {"reservation_ttl": timedelta(0)},
        {"max_shipping_attempts": 0},
        {"dedupe_window": 0},
    ],
    ids=["no-ttl", "no-shipping-attempt", "no-dedupe-memory"],
)
def test_a_policy_that_would_break_the_saga_is_refused(knobs: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="must be"):
        SagaPolicy(**knobs)


def test_dispatch_commits_every_held_line_so_the_units_leave_the_shelf() -> None:
    order = paid_order()
    decision = order.hear(dispatched())
    assert sorted(commit.sku for commit in of_type(decision, CommitStock)) == ["MUG", "TEE"]
    assert order.current.reserved_skus == frozenset()


def test_an_expiry_hint_expires_an_unpaid_order_past_its_deadline_and_releases_its_stock() -> None:
    order = reserved_order()
    order.now = order.current.reservation_expires_at
    decision = order.hear(ReservationExpiryDue(order_id=order.current.order_id))
    assert order.status is OrderStatus.EXPIRED
    assert sorted(released_skus(decision)) == ["MUG", "TEE"]


def test_an_expiry_hint_before_the_deadline_or_after_payment_changes_nothing() -> None:
    early = reserved_order()
    early.hear(ReservationExpiryDue(order_id=early.current.order_id))
    paid = paid_order()
    paid.now = paid.current.reservation_expires_at
    decision = paid.hear(ReservationExpiryDue(order_id=paid.current.order_id))
    assert (early.status, paid.status, decision.events) == (
        OrderStatus.RESERVED,
        OrderStatus.PAID,
        (),
    )
