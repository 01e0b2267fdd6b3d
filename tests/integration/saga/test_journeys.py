"""The order's journeys through the real saga: a worker process over the real Kafka."""

from __future__ import annotations

from streams.contract import (
    OrderCancelled,
    PaymentRefunded,
    PaymentRequested,
    PaymentRetryRequested,
    PaymentSucceeded,
    ShippingProblem,
)
from tests.integration.saga.conftest import Saga

DONE = ("delivered",)


async def test_a_paid_order_is_shipped_and_delivered_and_its_stock_leaves_the_shelf(
    saga: Saga, sku: str
) -> None:
    await saga.stock_up(sku, 5)
    order = await saga.place([(sku, 2)])
    await saga.reaches(order.order_id, *DONE)
    await saga.observer.until(
        lambda: (
            (stock := saga.observer.stock(sku)) is not None
            and (stock.on_hand, stock.reserved) == (3, 0)
        ),
        what="the dispatched units taken off the shelf",
    )
    charges = saga.observer.events_of(order.order_id, PaymentSucceeded)
    assert len(charges) == 1
    assert saga.observer.states[order.order_id].tracking_number


async def test_an_order_beyond_the_stock_is_rejected_and_never_charged(
    saga: Saga, sku: str
) -> None:
    await saga.stock_up(sku, 1)
    order = await saga.place([(sku, 2)])
    await saga.reaches(order.order_id, "rejected")
    assert saga.observer.events_of(order.order_id, PaymentRequested) == []
    stock = saga.observer.stock(sku)
    assert stock is not None and (stock.on_hand, stock.reserved) == (1, 0)


async def test_a_declined_card_releases_the_stock_and_a_retry_with_a_good_card_is_paid(
    saga: Saga, sku: str
) -> None:
    await saga.stock_up(sku, 3)
    order = await saga.place([(sku, 3)], card="tok_chargeDeclined")
    await saga.reaches(order.order_id, "payment_failed")
    await saga.observer.until(
        lambda: (stock := saga.observer.stock(sku)) is not None and stock.reserved == 0,
        what="stock released after the declined payment",
    )
    await saga.publish(PaymentRetryRequested(order_id=order.order_id, payment_token="tok_visa"))
    await saga.reaches(order.order_id, "paid", "shipped", *DONE)
    assert len(saga.observer.events_of(order.order_id, PaymentSucceeded)) == 1


async def test_an_order_cancelled_before_payment_holds_no_stock(saga: Saga, sku: str) -> None:
    await saga.stock_up(sku, 4)
    order = await saga.place([(sku, 4)])
    # Same partition, right behind the order: the saga hears it before any reservation lands.
    await saga.publish(OrderCancelled(order_id=order.order_id, reason="changed my mind"))
    await saga.reaches(order.order_id, "cancelled")
    await saga.observer.until(
        lambda: (
            (stock := saga.observer.stock(sku)) is not None
            and stock.reserved == 0
            and stock.revision >= 3
        ),  # set, reserved (late), released
        what="the late reservation released",
    )
    assert saga.observer.events_of(order.order_id, PaymentRequested) == []


async def test_a_shipping_problem_is_retried_then_escalated(saga: Saga, sku: str) -> None:
    await saga.stock_up(sku, 1)
    order = await saga.place([(sku, 1)], postal_code="00000")  # the carrier always fails
    await saga.reaches(order.order_id, "shipping_problem")
    problems = saga.observer.events_of(order.order_id, ShippingProblem)
    assert sorted(problem.attempt for problem in problems) == [1, 2, 3]  # type: ignore[attr-defined]


async def test_a_paid_order_cancelled_before_shipment_is_refunded_and_its_stock_released(
    saga: Saga, sku: str
) -> None:
    await saga.stock_up(sku, 2)
    order = await saga.place([(sku, 2)], postal_code="00000")  # it will not ship
    await saga.reaches(order.order_id, "shipping_problem")
    await saga.publish(OrderCancelled(order_id=order.order_id, reason="too slow"))
    await saga.reaches(order.order_id, "cancelled")
    await saga.observer.until(
        lambda: bool(saga.observer.events_of(order.order_id, PaymentRefunded)),
        what="the refund",
    )
    [refund] = saga.observer.events_of(order.order_id, PaymentRefunded)
    assert refund.amount_cents == order.total_cents  # type: ignore[attr-defined]
    await saga.observer.until(
        lambda: (
            (stock := saga.observer.stock(sku)) is not None
            and (stock.on_hand, stock.reserved) == (2, 0)
        ),
        what="stock released",
    )
