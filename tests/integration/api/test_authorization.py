"""Who may touch what: every id-bearing route, asked by the owner, by another customer, by an
admin and by nobody. Another customer's order is "not found", never "forbidden"."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.integration.api.conftest import (
    ADDRESS,
    Catalog,
    Person,
    order_body,
    order_in,
    place,
)


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # {order_id} filled in
    body: dict[str, Any] | None = None


# Every route that takes an order id. Bodies are valid, so only authorization can refuse them.
ORDER_ROUTES = [
    Route("GET", "/orders/{order_id}"),
    Route("GET", "/orders/{order_id}/events"),
    Route("POST", "/orders/{order_id}/cancel", {"reason": "not mine to cancel"}),
    Route("POST", "/orders/{order_id}/payment", {"payment_token": "tok_visa"}),
    Route("PATCH", "/orders/{order_id}", {"shipping_address": ADDRESS}),
]


async def _order_of(client: httpx.AsyncClient, owner: Person, catalog: Catalog) -> str:
    # A declined order stays put (payment_failed), so every route has something to act on.
    sku = await catalog.add(stock=5)
    placed = await place(client, owner, order_body((sku, 1), card="tok_chargeDeclined"))
    order_id: str = placed.json()["order_id"]
    await order_in(client, owner, order_id, "payment_failed")
    return order_id


async def _call(
    client: httpx.AsyncClient, route: Route, order_id: str, person: Person | None
) -> httpx.Response:
    return await client.request(
        route.method,
        route.path.format(order_id=order_id),
        json=route.body,
        headers=person.headers if person else {},
    )


@pytest.mark.parametrize("route", ORDER_ROUTES, ids=lambda r: f"{r.method} {r.path}")
async def test_another_customers_order_is_not_found_on_every_route(
    route: Route,
    client: httpx.AsyncClient,
    customer: Person,
    other_customer: Person,
    catalog: Catalog,
) -> None:
    order_id = await _order_of(client, customer, catalog)
    intruder = await _call(client, route, order_id, other_customer)
    missing = await _call(client, route, "ord_does_not_exist", other_customer)
    assert intruder.status_code == 404
    # Word for word what a missing order gets: nothing tells the two apart.
    assert intruder.json()["detail"].replace(order_id, "X") == missing.json()["detail"].replace(
        "ord_does_not_exist", "X"
    )
    anonymous = await _call(client, route, order_id, None)
    assert anonymous.status_code == 401
    # And the intruder changed nothing.
    order = await client.get(f"/orders/{order_id}", headers=customer.headers)
    assert order.json()["status"] == "payment_failed"


@pytest.mark.parametrize("route", ORDER_ROUTES, ids=lambda r: f"{r.method} {r.path}")
async def test_the_owner_reaches_every_route(
    route: Route, client: httpx.AsyncClient, customer: Person, catalog: Catalog
) -> None:
    order_id = await _order_of(client, customer, catalog)
    response = await _call(client, route, order_id, customer)
    expected = {"GET": 200, "POST": 202, "PATCH": 202}[route.method]
    assert response.status_code == expected, response.text


async def test_an_admin_reads_and_cancels_any_order_but_does_not_pay_for_it(
    client: httpx.AsyncClient, admin: Person, customer: Person, catalog: Catalog
) -> None:
    order_id = await _order_of(client, customer, catalog)
    read = await client.get(f"/orders/{order_id}", headers=admin.headers)
    events = await client.get(f"/orders/{order_id}/events", headers=admin.headers)
    pay = await client.post(
        f"/orders/{order_id}/payment", json={"payment_token": "tok_visa"}, headers=admin.headers
    )
    cancel = await client.post(f"/orders/{order_id}/cancel", headers=admin.headers)
    assert read.status_code == events.status_code == 200
    assert pay.status_code == 403
    assert cancel.status_code == 202
    order = await order_in(client, customer, order_id, "cancelled")
    assert "requested by an admin" in order["status_reason"]


async def test_another_customers_orders_never_appear_in_my_list(
    client: httpx.AsyncClient, customer: Person, other_customer: Person, catalog: Catalog
) -> None:
    order_id = await _order_of(client, customer, catalog)
    theirs = await client.get("/orders", headers=other_customer.headers)
    paging_past_it = await client.get(
        "/orders", params={"before": order_id}, headers=other_customer.headers
    )
    assert theirs.json()["items"] == []
    assert paging_past_it.json()["items"] == []


ADMIN_ROUTES = [
    Route("POST", "/products", {"sku": "AUTHZ-1", "name": "X", "category": "x", "price_cents": 1}),
    Route("PATCH", "/products/{sku}", {"price_cents": 1}),
    Route("DELETE", "/products/{sku}"),
    Route("POST", "/products/{sku}/stock", {"set_to": 1}),
    Route("DELETE", "/products/{sku}/images/img_" + "0" * 32),
    Route("GET", "/admin/orders"),
]


@pytest.mark.parametrize("route", ADMIN_ROUTES, ids=lambda r: f"{r.method} {r.path}")
async def test_admin_routes_are_403_for_customers_and_401_for_strangers(
    route: Route, client: httpx.AsyncClient, customer: Person, catalog: Catalog
) -> None:
    sku = await catalog.add()
    path = route.path.format(sku=sku)
    as_customer = await client.request(
        route.method, path, json=route.body, headers=customer.headers
    )
    as_stranger = await client.request(route.method, path, json=route.body)
    assert as_customer.status_code == 403
    assert as_stranger.status_code == 401
