"""Placing orders and asking the saga to act on them; reading them from the read models.

An order is acknowledged (202) only once its OrderPlaced is acknowledged by Kafka; prices and
the total come from the catalog at that moment. Whether the order then gets its stock, its
payment and its parcel is the saga's business. Cancelling, retrying a payment and changing the
shipping address are requests to the saga: the gateway refuses early what the order's state
machine would refuse anyway (``streams.domain.order_status``), and the saga decides again when
the event arrives.

Reads come from the status projection, which trails Kafka by a moment: an order just accepted
may answer 404 for that moment, and its list entry appears a little later.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

import asyncpg

from api.dynamo import DynamoDBClient
from api.idempotency import Envelope, IdempotencyStore, NotSellable, UnitPrice
from api.problem_types import ProblemType
from api.problems import ApiError
from api.schemas.orders import (
    AddressPublic,
    OrderAccepted,
    OrderCreate,
    OrderEventPublic,
    OrderLinePublic,
    OrderPage,
    OrderPublic,
    OrderSummaryPublic,
    OrderTimeline,
)
from api.security import Principal
from api.services.events import publish, request_trace
from shopstream.settings import Settings
from streams.contract import (
    Address,
    OrderCancelled,
    OrderLine,
    OrderPlaced,
    OrderStatus,
    PaymentRetryRequested,
    ShippingAddressChanged,
)
from streams.domain.order_status import TransitionRefused, address_change_refusal, transition
from streams.projections.history import order_timeline
from streams.projections.order_status import (
    OrderDetail,
    OrderSummary,
    get_order,
    list_orders_for_user,
)
from streams.publisher import EventPublisher

_NOT_FOUND = "No order {order_id}."


@dataclass(frozen=True, slots=True)
class PlacedOrder:
    order_id: str
    body: str  # JSON text: the first answer's, byte for byte, however often it is replayed
    replayed: bool


async def place_order(
    publisher: EventPublisher,
    store: IdempotencyStore,
    user: Principal,
    idempotency_key: str,
    body: OrderCreate,
) -> PlacedOrder:
    fingerprint = store.fingerprint("POST", "/orders", body.model_dump(mode="json"))
    envelope = Envelope(
        order_id=f"ord_{uuid.uuid4().hex}",
        event_id=uuid.uuid4(),
        occurred_at=datetime.now(UTC),
        trace_id=request_trace().get("trace_id") or uuid.uuid4().hex,
    )
    skus = [line.sku for line in body.lines]
    claim = await store.claim_order(user.user_id, idempotency_key, fingerprint, skus, envelope)
    if isinstance(claim, NotSellable):
        raise _refusal(skus, claim)
    order = placed_order(user, body, claim.envelope, claim.prices)
    # A retry publishes the same event again (same event_id): the first request may have
    # crashed between its claim and its publish, and consumers dedupe by the id.
    await publish(publisher, [order])
    return PlacedOrder(order.order_id, accepted_body(order), replayed=not claim.fresh)


def _refusal(skus: list[str], catalog: NotSellable) -> ApiError:
    missing = [sku for sku in skus if sku not in catalog.on_sale]
    if missing:
        return ApiError(ProblemType.NOT_IN_CATALOG, f"Not in the catalog: {', '.join(missing)}.")
    if len(catalog.currencies) > 1:
        return ApiError(
            ProblemType.MIXED_CURRENCIES,
            f"The lines are priced in {' and '.join(catalog.currencies)}; "
            "one order pays in one currency.",
        )
    raise RuntimeError("the catalog priced the order but the key was not claimed")


def placed_order(
    user: Principal, body: OrderCreate, envelope: Envelope, prices: dict[str, UnitPrice]
) -> OrderPlaced:
    """The order's event, from the request and what its key holds: the same event, same
    ``event_id``, for the first request and every retry of it."""
    lines = tuple(
        OrderLine(
            sku=line.sku, quantity=line.quantity, unit_price_cents=prices[line.sku].price_cents
        )
        for line in body.lines
    )
    return OrderPlaced(
        order_id=envelope.order_id,
        event_id=envelope.event_id,
        occurred_at=envelope.occurred_at,
        trace_id=envelope.trace_id,
        user_id=user.user_id,
        lines=lines,
        total_cents=sum(line.subtotal_cents for line in lines),
        currency=prices[body.lines[0].sku].currency,
        shipping_address=body.shipping_address.to_contract(),
        payment_token=body.payment_token,
    )


def accepted_body(order: OrderPlaced) -> str:
    """The 202's body for an order: a pure function of its event, so a replay is identical."""
    return OrderAccepted(
        order_id=order.order_id,
        status=OrderStatus.PENDING,
        lines=[_line(line) for line in order.lines],
        total_cents=order.total_cents,
        currency=order.currency,
        shipping_address=AddressPublic.model_validate(order.shipping_address.model_dump()),
    ).model_dump_json()


def _line(line: OrderLine) -> OrderLinePublic:
    return OrderLinePublic(
        sku=line.sku,
        quantity=line.quantity,
        unit_price_cents=line.unit_price_cents,
        subtotal_cents=line.subtotal_cents,
    )


async def visible_order(pool: asyncpg.Pool, user: Principal, order_id: str) -> OrderDetail:
    """The order if this caller may see it. Another customer's order is "not found", exactly
    like an order that does not exist: its existence is not the caller's to learn."""
    order = await get_order(pool, order_id)
    if order is None or (order.user_id != user.user_id and not user.is_admin):
        raise ApiError(ProblemType.ORDER_NOT_FOUND, _NOT_FOUND.format(order_id=order_id))
    return order


def order_public(order: OrderDetail) -> OrderPublic:
    return OrderPublic(
        **_summary(order).model_dump(),
        lines=[_line(line) for line in order.lines],
        shipping_address=AddressPublic.model_validate(order.shipping_address.model_dump()),
        paid_cents=order.paid_cents,
        refunded_cents=order.refunded_cents,
        refund_status=order.refund_status,
        refund_failure_reason=order.refund_failure_reason,
    )


def _summary(order: OrderSummary) -> OrderSummaryPublic:
    return OrderSummaryPublic(
        order_id=order.order_id,
        user_id=order.user_id,
        status=order.status,
        status_reason=order.status_reason,
        total_cents=order.total_cents,
        currency=order.currency,
        tracking_number=order.tracking_number,
        created_at=order.created_at,
        updated_at=order.updated_at,
    )


async def list_own_orders(
    pool: asyncpg.Pool, user: Principal, limit: int, before: str | None
) -> OrderPage:
    # One more than asked tells whether another page follows.
    orders = await list_orders_for_user(pool, user.user_id, limit + 1, before)
    return _page([_summary(order) for order in orders], limit)


def _page(items: list[OrderSummaryPublic], limit: int) -> OrderPage:
    more = len(items) > limit
    items = items[:limit]
    return OrderPage(items=items, next_before=items[-1].order_id if more and items else None)


@dataclass(frozen=True, slots=True)
class AdminOrderFilters:
    status: OrderStatus | None = None
    user_id: str | None = None
    placed_from: datetime | None = None
    placed_to: datetime | None = None
    limit: int = 20
    before: str | None = None


# Keyset paging on (created_at, order_id) like the customer's list; every filter is a parameter
# switched off by NULL. The cursor is looked up in the same statement.
_ADMIN_LIST: Final = """
SELECT order_id, user_id, status, status_reason, total_cents, currency, tracking_number,
       version, created_at, updated_at
FROM orders
WHERE ($1::text IS NULL OR status = $1)
  AND ($2::text IS NULL OR user_id = $2)
  AND ($3::timestamptz IS NULL OR created_at >= $3)
  AND ($4::timestamptz IS NULL OR created_at < $4)
  AND ($5::text IS NULL OR (created_at, order_id) < (
        SELECT created_at, order_id FROM orders WHERE order_id = $5))
ORDER BY created_at DESC, order_id DESC
LIMIT $6
"""


async def list_all_orders(pool: asyncpg.Pool, filters: AdminOrderFilters) -> OrderPage:
    rows = await pool.fetch(
        _ADMIN_LIST,
        filters.status.value if filters.status else None,
        filters.user_id,
        filters.placed_from,
        filters.placed_to,
        filters.before,
        filters.limit + 1,
    )
    orders = [_summary(OrderSummary.model_validate(dict(row))) for row in rows]
    return _page(orders, filters.limit)


async def timeline(
    pool: asyncpg.Pool,
    dynamodb: DynamoDBClient,
    settings: Settings,
    user: Principal,
    order_id: str,
) -> OrderTimeline:
    await visible_order(pool, user, order_id)
    entries = await order_timeline(settings, order_id, client=dynamodb)
    return OrderTimeline(
        order_id=order_id,
        events=[
            OrderEventPublic(
                event_id=str(entry.event_id),
                type=entry.type,
                occurred_at=entry.occurred_at,
                trace_id=entry.trace_id,
                summary=entry.summary,
            )
            for entry in entries
        ],
    )


async def cancel(
    pool: asyncpg.Pool,
    publisher: EventPublisher,
    user: Principal,
    order_id: str,
    reason: str | None,
) -> None:
    order = await visible_order(pool, user, order_id)
    try:
        transition(order.status, OrderStatus.CANCELLED)
    except TransitionRefused as refusal:
        raise ApiError(
            ProblemType.ORDER_NOT_CANCELLABLE, f"The order cannot be cancelled: {refusal.reason}."
        ) from refusal
    who = "the customer" if order.user_id == user.user_id else "an admin"
    why = f"requested by {who}: {reason}" if reason else f"requested by {who}"
    await publish(publisher, [OrderCancelled(order_id=order_id, reason=why, **request_trace())])


async def retry_payment(
    pool: asyncpg.Pool,
    publisher: EventPublisher,
    user: Principal,
    order_id: str,
    payment_token: str,
) -> None:
    order = await visible_order(pool, user, order_id)
    if order.user_id != user.user_id:
        raise ApiError(
            ProblemType.NOT_ORDER_OWNER, "Only the customer who placed the order can pay for it."
        )
    try:
        # Only a failed payment leads back to PENDING, which is what a retry does.
        transition(order.status, OrderStatus.PENDING)
    except TransitionRefused as refusal:
        raise ApiError(
            ProblemType.PAYMENT_NOT_RETRYABLE,
            f"A payment can be retried only after a failed one: {refusal.reason}.",
        ) from refusal
    await publish(
        publisher,
        [PaymentRetryRequested(order_id=order_id, payment_token=payment_token, **request_trace())],
    )


async def change_shipping_address(
    pool: asyncpg.Pool,
    publisher: EventPublisher,
    user: Principal,
    order_id: str,
    address: Address,
) -> None:
    order = await visible_order(pool, user, order_id)
    # The projection has no shipment column; the saga requests the shipment in the same step
    # that makes the order PAID, so a PAID order here has one. The saga checks again anyway:
    # the projection trails it by a moment.
    refusal = address_change_refusal(
        order.status, shipment_requested=order.status is OrderStatus.PAID
    )
    if refusal is not None:
        raise ApiError(
            ProblemType.ADDRESS_LOCKED, f"The shipping address cannot change: {refusal}."
        )
    await publish(
        publisher,
        [ShippingAddressChanged(order_id=order_id, shipping_address=address, **request_trace())],
    )
