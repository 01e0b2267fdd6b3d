"""Orders: place (idempotent), read, follow, cancel, retry payment; admins list them all."""

from __future__ import annotations

from typing import Annotated, Final

from fastapi import APIRouter, Body, Header, Path, Query, Response, status
from fastapi.responses import JSONResponse

from api.deps import (
    AdminUser,
    CurrentUser,
    DynamoDep,
    LimiterDep,
    PoolDep,
    PublisherDep,
    SettingsDep,
    SignedInCaller,
)
from api.observability import annotate
from api.openapi import IDEMPOTENT_REPLAYED, LOCATION, problems
from api.schemas.common import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, DateTimeText, IdText
from api.schemas.orders import (
    OrderAccepted,
    OrderCancel,
    OrderCommandAccepted,
    OrderCreate,
    OrderPage,
    OrderPublic,
    OrderTimeline,
    PaymentRetry,
    ShippingAddressChange,
)
from api.services import orders
from api.services.orders import AdminOrderFilters
from streams.contract import OrderStatus

router = APIRouter(tags=["orders"])

# The saga's ids (ours are ord_<hex>; the command line's ord-<hex>): URL-safe characters only.
ORDER_ID_PATTERN: Final = r"^[A-Za-z0-9._-]{1,100}$"
OrderIdPath = Annotated[str, Path(pattern=ORDER_ID_PATTERN, examples=["ord_6f1c0e..."])]
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)]
Before = Annotated[
    str | None,
    Query(pattern=ORDER_ID_PATTERN, description="`next_before` of the previous page"),
]
IdempotencyKey = Annotated[
    str,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=255,
        pattern=r"^[\x21-\x7e]+$",  # visible ASCII: a UUID is the usual choice
        description="A key unique to this order, e.g. a UUID. Retrying with the same key and "
        "body returns the same answer and never makes a second order.",
    ),
]


@router.post(
    "/orders",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=OrderAccepted,
    summary="Place an order; 202 once it is durably in the event stream",
    responses={
        202: {"headers": {**LOCATION, **IDEMPOTENT_REPLAYED}},
        **problems(401, 413, 422, 503),
    },
)
async def place_order(
    body: OrderCreate,
    idempotency_key: IdempotencyKey,
    caller: SignedInCaller,
) -> Response:
    """Prices and the total come from the catalog; 202 means the order is in Kafka and the saga
    has it. ``Location`` answers 404 for the moment the status projection takes to catch up.

    Send a fresh ``Idempotency-Key`` per order and the same one on every retry of it: the
    retry gets the first answer again (with ``Idempotent-Replayed: true``), never a second
    order. The same key with another body is refused (422).
    """
    placed = await orders.place_order(
        caller.publisher, caller.idempotency, caller.user, idempotency_key, body
    )
    # The access log line names the order (and whether this was a retry's replay).
    annotate(order_id=placed.order_id, replayed=placed.replayed)
    headers = {"Location": f"/orders/{placed.order_id}"}
    if placed.replayed:
        headers["Idempotent-Replayed"] = "true"
    return Response(placed.body, status_code=202, headers=headers, media_type="application/json")


@router.get("/orders", summary="My orders, newest first", responses=problems(401))
async def list_my_orders(
    user: CurrentUser,
    pool: PoolDep,
    limit: Limit = DEFAULT_PAGE_SIZE,
    before: Before = None,
) -> OrderPage:
    """Pages of the signed-in customer's orders, newest first, from the status projection. For the
    next page, pass the page's ``next_before`` as ``before``."""
    return await orders.list_own_orders(pool, user, limit, before)


@router.get(
    "/orders/{order_id}",
    summary="One order (mine; admins: any)",
    responses=problems(401, 404),
)
async def get_order(order_id: OrderIdPath, caller: SignedInCaller) -> OrderPublic:
    """From the status projection in PostgreSQL only; the timeline has an endpoint of its own."""
    return orders.order_public(await orders.visible_order(caller.pool, caller.user, order_id))


@router.get(
    "/orders/{order_id}/events",
    summary="The order's timeline: every event, oldest first",
    responses=problems(401, 404),
)
async def list_order_events(
    order_id: OrderIdPath,
    user: CurrentUser,
    pool: PoolDep,
    dynamodb: DynamoDep,
    settings: SettingsDep,
) -> OrderTimeline:
    """Everything that happened to the order, as its history recorded it: each event's type, time
    and a summary, oldest first. Another customer's order is 404, like one that does not exist."""
    return await orders.timeline(pool, dynamodb, settings, user, order_id)


def _accepted(order_id: str, detail: str) -> JSONResponse:
    body = OrderCommandAccepted(order_id=order_id, detail=detail)
    return JSONResponse(
        body.model_dump(), status_code=202, headers={"Location": f"/orders/{order_id}"}
    )


@router.post(
    "/orders/{order_id}/cancel",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=OrderCommandAccepted,
    summary="Ask to cancel the order (before it ships); paid orders are refunded",
    responses={202: {"headers": LOCATION}, **problems(401, 404, 409, 413, 429, 503)},
)
async def cancel_order(
    order_id: OrderIdPath,
    user: CurrentUser,
    pool: PoolDep,
    publisher: PublisherDep,
    limiter: LimiterDep,
    settings: SettingsDep,
    body: Annotated[OrderCancel | None, Body()] = None,
) -> JSONResponse:
    """202 once the request is in the event stream; the saga then cancels the order, releases its
    stock and refunds what was paid. Follow ``Location`` for the outcome. An order that has shipped,
    or is over, cannot be cancelled (409). Admins may cancel any order."""
    await limiter.hit("cancellation", user.user_id, settings.order_cancellations_per_window)
    await orders.cancel(pool, publisher, user, order_id, body.reason if body else None)
    return _accepted(order_id, "Cancellation requested; the order's status shows when it is done.")


@router.post(
    "/orders/{order_id}/payment",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=OrderCommandAccepted,
    summary="Pay again with another card after a failed payment",
    responses={
        202: {"headers": LOCATION},
        **problems(401, 403, 404, 409, 413, 429, 503),
    },
)
async def retry_payment(
    order_id: OrderIdPath,
    body: PaymentRetry,
    user: CurrentUser,
    pool: PoolDep,
    publisher: PublisherDep,
    limiter: LimiterDep,
    settings: SettingsDep,
) -> JSONResponse:
    """Only after a failed payment, and only by the customer who placed the order (403 for anyone
    else, admins too): the saga reserves the stock again, then charges the new card. 409 when the
    order is not waiting for a payment. Follow ``Location`` for the outcome."""
    await limiter.hit("payment-retry", user.user_id, settings.payment_retries_per_window)
    await orders.retry_payment(pool, publisher, user, order_id, body.payment_token)
    return _accepted(order_id, "Payment retry requested; stock is reserved again first.")


@router.patch(
    "/orders/{order_id}",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=OrderCommandAccepted,
    summary="Change the shipping address, until a shipment is requested",
    responses={202: {"headers": LOCATION}, **problems(401, 404, 409, 413, 429, 503)},
)
async def change_shipping_address(
    order_id: OrderIdPath,
    body: ShippingAddressChange,
    user: CurrentUser,
    pool: PoolDep,
    publisher: PublisherDep,
    limiter: LimiterDep,
    settings: SettingsDep,
) -> JSONResponse:
    """Accepted while the order is pending, reserved or waiting for a payment retry. Once its
    shipment is requested (it is paid), or later, the answer is 409. The order's
    ``shipping_address`` shows the new address once the saga has taken it."""
    await limiter.hit("address-change", user.user_id, settings.address_changes_per_window)
    await orders.change_shipping_address(
        pool, publisher, user, order_id, body.shipping_address.to_contract()
    )
    return _accepted(order_id, "Address change requested; the order shows it once applied.")


@router.get(
    "/admin/orders",
    summary="Every order, newest first, filtered (admin)",
    tags=["admin"],
    responses=problems(401, 403),
)
async def list_all_orders(
    admin: AdminUser,
    pool: PoolDep,
    order_status: Annotated[OrderStatus | None, Query(alias="status")] = None,
    user_id: Annotated[IdText | None, Query()] = None,
    placed_from: Annotated[DateTimeText | None, Query(description="Placed at or after")] = None,
    placed_to: Annotated[DateTimeText | None, Query(description="Placed before")] = None,
    limit: Limit = DEFAULT_PAGE_SIZE,
    before: Before = None,
) -> OrderPage:
    """Admins only: every customer's orders, newest first, filtered by status, customer and when
    they were placed; paged like ``GET /orders``."""
    filters = AdminOrderFilters(
        status=order_status,
        user_id=user_id,
        placed_from=placed_from,
        placed_to=placed_to,
        limit=limit,
        before=before,
    )
    return await orders.list_all_orders(pool, filters)
