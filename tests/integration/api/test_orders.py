"""Orders over the live gateway and the running saga: placing (idempotently), reading,
following, cancelling, retrying payment, and the admin's list."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest

from tests.integration.api.conftest import (
    ADDRESS,
    Catalog,
    Person,
    eventually,
    order_body,
    order_in,
    place,
)


async def test_an_order_is_priced_from_the_catalog_and_accepted_with_its_location(
    client: httpx.AsyncClient, customer: Person, catalog: Catalog
) -> None:
    mug = await catalog.add(price_cents=1250, stock=10)
    pot = await catalog.add(price_cents=3000, stock=10)
    response = await place(client, customer, order_body((mug, 2), (pot, 1)))
    body = response.json()
    assert response.status_code == 202, response.text
    assert response.headers["location"] == f"/orders/{body['order_id']}"
    assert body["total_cents"] == 2 * 1250 + 3000
    assert [(line["sku"], line["unit_price_cents"]) for line in body["lines"]] == [
        (mug, 1250),
        (pot, 3000),
    ]
    assert body["status"] == "pending"


async def test_an_accepted_order_goes_through_the_saga_to_delivered(
    client: httpx.AsyncClient, customer: Person, catalog: Catalog
) -> None:
    sku = await catalog.add(price_cents=900, stock=5)
    placed = await place(client, customer, order_body((sku, 2)))
    order = await order_in(client, customer, placed.json()["order_id"], "delivered")
    assert order["paid_cents"] == 1800
    assert order["tracking_number"]
    assert order["user_id"] == customer.user_id


async def test_the_timeline_lists_the_orders_events_oldest_first(
    client: httpx.AsyncClient, customer: Person, catalog: Catalog
) -> None:
    sku = await catalog.add(stock=5)
    order_id = (await place(client, customer, order_body((sku, 1)))).json()["order_id"]
    await order_in(client, customer, order_id, "delivered")
    timeline = await eventually(
        lambda: client.get(f"/orders/{order_id}/events", headers=customer.headers),
        lambda r: "ShipmentDelivered" in {event["type"] for event in r.json()["events"]},
    )
    types = [event["type"] for event in timeline.json()["events"]]
    assert types[0] == "OrderPlaced"
    assert types.index("PaymentSucceeded") < types.index("ShipmentDispatched")
    assert "tok_visa" not in timeline.text


async def test_the_orders_events_carry_the_trace_id_of_the_request_that_placed_it(
    client: httpx.AsyncClient, customer: Person, catalog: Catalog
) -> None:
    sku = await catalog.add(stock=5)
    trace_id = uuid.uuid4().hex
    placed = await client.post(
        "/orders",
        json=order_body((sku, 1)),
        headers={
            **customer.headers,
            "Idempotency-Key": uuid.uuid4().hex,
            "traceparent": f"00-{trace_id}-00f067aa0ba902b7-01",
        },
    )
    assert placed.headers["x-trace-id"] == trace_id
    order_id = placed.json()["order_id"]
    timeline = await eventually(
        lambda: client.get(f"/orders/{order_id}/events", headers=customer.headers),
        lambda r: r.status_code == 200 and r.json()["events"],
    )
    assert timeline.json()["events"][0]["trace_id"] == trace_id


async def test_prices_totals_and_owners_sent_by_the_client_are_refused_by_name(
    client: httpx.AsyncClient, customer: Person, catalog: Catalog
) -> None:
    sku = await catalog.add()
    body = order_body((sku, 1))
    for field, value in [("total_cents", 1), ("user_id", "usr_x"), ("status", "paid")]:
        response = await place(client, customer, {**body, field: value})
        assert response.status_code == 422
        assert f"body.{field}: Extra inputs are not permitted" in response.json()["detail"]
    priced_line = {**body, "lines": [{"sku": sku, "quantity": 1, "unit_price_cents": 1}]}
    response = await place(client, customer, priced_line)
    assert response.status_code == 422
    assert "body.lines.0.unit_price_cents" in response.json()["detail"]


async def test_orders_for_unknown_skus_or_in_two_currencies_are_refused(
    client: httpx.AsyncClient, customer: Person, catalog: Catalog
) -> None:
    euros = await catalog.add(currency="EUR")
    pounds = await catalog.add(currency="GBP")
    unknown = await place(client, customer, order_body(("NO-SUCH-SKU-ANYWHERE", 1)))
    mixed = await place(client, customer, order_body((euros, 1), (pounds, 1)))
    twice = await place(client, customer, order_body((euros, 1), (euros, 2)))
    assert unknown.status_code == mixed.status_code == twice.status_code == 422
    assert "NO-SUCH-SKU-ANYWHERE" in unknown.json()["detail"]
    assert "EUR and GBP" in mixed.json()["detail"]


async def test_an_order_needs_an_idempotency_key(
    client: httpx.AsyncClient, customer: Person, catalog: Catalog
) -> None:
    sku = await catalog.add()
    response = await client.post("/orders", json=order_body((sku, 1)), headers=customer.headers)
    assert response.status_code == 422
    assert "Idempotency-Key" in response.json()["detail"]


async def test_a_retry_with_the_same_key_replays_the_same_answer(
    client: httpx.AsyncClient, customer: Person, catalog: Catalog
) -> None:
    sku = await catalog.add(stock=5)
    key = uuid.uuid4().hex
    first = await place(client, customer, order_body((sku, 1)), key)
    # Key order and whitespace do not make another request.
    reordered = {
        "payment_token": "tok_visa",
        "shipping_address": ADDRESS,
        "lines": [{"quantity": 1, "sku": sku}],
    }
    second = await place(client, customer, reordered, key)
    assert first.status_code == second.status_code == 202
    assert second.content == first.content
    assert second.headers["location"] == first.headers["location"]
    assert second.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers


async def test_the_same_key_with_another_body_is_refused(
    client: httpx.AsyncClient, customer: Person, catalog: Catalog
) -> None:
    sku = await catalog.add(stock=5)
    key = uuid.uuid4().hex
    first = await place(client, customer, order_body((sku, 1)), key)
    other = await place(client, customer, order_body((sku, 2)), key)
    assert first.status_code == 202
    assert other.status_code == 422
    assert "Idempotency-Key" in other.json()["detail"]


async def test_a_replay_still_answers_after_the_product_is_withdrawn(
    client: httpx.AsyncClient, admin: Person, customer: Person, catalog: Catalog
) -> None:
    sku = await catalog.add(stock=5)
    key = uuid.uuid4().hex
    first = await place(client, customer, order_body((sku, 1)), key)
    await client.delete(f"/products/{sku}", headers=admin.headers)
    replay = await place(client, customer, order_body((sku, 1)), key)
    assert replay.status_code == 202
    assert replay.content == first.content


async def test_two_customers_may_use_the_same_key(
    client: httpx.AsyncClient, customer: Person, other_customer: Person, catalog: Catalog
) -> None:
    sku = await catalog.add(stock=5)
    key = uuid.uuid4().hex
    mine = await place(client, customer, order_body((sku, 1)), key)
    theirs = await place(client, other_customer, order_body((sku, 1)), key)
    assert mine.status_code == theirs.status_code == 202
    assert mine.json()["order_id"] != theirs.json()["order_id"]


async def test_a_hundred_concurrent_identical_orders_make_exactly_one_order(
    client: httpx.AsyncClient, customer: Person, catalog: Catalog
) -> None:
    sku = await catalog.add(stock=500)
    key = uuid.uuid4().hex
    answers = await asyncio.gather(
        *(place(client, customer, order_body((sku, 1)), key) for _ in range(100))
    )
    assert {answer.status_code for answer in answers} == {202}
    assert len({answer.content for answer in answers}) == 1
    assert sum("idempotent-replayed" not in answer.headers for answer in answers) == 1
    order_id = answers[0].json()["order_id"]
    await order_in(client, customer, order_id, "delivered")
    mine = await client.get("/orders", headers=customer.headers)
    assert [order["order_id"] for order in mine.json()["items"]] == [order_id]
    timeline = await client.get(f"/orders/{order_id}/events", headers=customer.headers)
    placed = [event for event in timeline.json()["events"] if event["type"] == "OrderPlaced"]
    assert len(placed) == 1
    product = await client.get(f"/products/{sku}")
    assert product.json()["stock"]["on_hand"] == 499  # one unit shipped, not a hundred


async def test_two_hundred_concurrent_posts_with_one_key_make_one_order_named_in_every_answer(
    client: httpx.AsyncClient, customer: Person, catalog: Catalog
) -> None:
    sku = await catalog.add(stock=500)
    key = uuid.uuid4().hex
    answers = await asyncio.gather(
        *(place(client, customer, order_body((sku, 2)), key) for _ in range(200))
    )
    assert [answer.status_code for answer in answers] == [202] * 200
    order_ids = {answer.json()["order_id"] for answer in answers}
    assert len(order_ids) == 1
    (order_id,) = order_ids
    assert {answer.headers["location"] for answer in answers} == {f"/orders/{order_id}"}
    assert sum("idempotent-replayed" not in answer.headers for answer in answers) == 1
    # Every answer published the same event (one event_id): the saga took one order.
    order = await order_in(client, customer, order_id, "paid", "shipped", "delivered")
    assert order["total_cents"] == 2 * 1250
    mine = await client.get("/orders", headers=customer.headers)
    assert [entry["order_id"] for entry in mine.json()["items"]] == [order_id]
    timeline = await client.get(f"/orders/{order_id}/events", headers=customer.headers)
    placed = [event for event in timeline.json()["events"] if event["type"] == "OrderPlaced"]
    assert len(placed) == 1


async def test_my_orders_come_newest_first_in_pages(
    client: httpx.AsyncClient, customer: Person, catalog: Catalog
) -> None:
    sku = await catalog.add(stock=10)
    placed = []
    for _ in range(3):
        order_id = (await place(client, customer, order_body((sku, 1)))).json()["order_id"]
        await order_in(client, customer, order_id, "delivered")
        placed.append(order_id)
    first = await client.get("/orders", params={"limit": 2}, headers=customer.headers)
    second = await client.get(
        "/orders",
        params={"limit": 2, "before": first.json()["next_before"]},
        headers=customer.headers,
    )
    seen = [order["order_id"] for order in first.json()["items"] + second.json()["items"]]
    assert seen == placed[::-1]
    assert second.json()["next_before"] is None
    capped = await client.get("/orders", params={"limit": 101}, headers=customer.headers)
    assert capped.status_code == 422


async def test_a_declined_order_can_be_paid_again_with_another_card(
    client: httpx.AsyncClient, customer: Person, catalog: Catalog
) -> None:
    sku = await catalog.add(stock=5)
    placed = await place(client, customer, order_body((sku, 1), card="tok_chargeDeclined"))
    order_id = placed.json()["order_id"]
    await order_in(client, customer, order_id, "payment_failed")
    retried = await client.post(
        f"/orders/{order_id}/payment", json={"payment_token": "tok_visa"}, headers=customer.headers
    )
    assert retried.status_code == 202
    assert retried.headers["location"] == f"/orders/{order_id}"
    order = await order_in(client, customer, order_id, "delivered")
    assert order["paid_cents"] == order["total_cents"]


async def test_a_payment_retry_is_refused_unless_the_payment_failed(
    client: httpx.AsyncClient, customer: Person, catalog: Catalog
) -> None:
    sku = await catalog.add(stock=5)
    order_id = (await place(client, customer, order_body((sku, 1)))).json()["order_id"]
    await order_in(client, customer, order_id, "delivered")
    response = await client.post(
        f"/orders/{order_id}/payment", json={"payment_token": "tok_visa"}, headers=customer.headers
    )
    assert response.status_code == 409
    assert "only after a failed one" in response.json()["detail"]
    assert response.json()["type"] == "https://shopstream.dev/problems/payment-not-retryable"


async def test_an_unpaid_order_is_cancelled_on_request(
    client: httpx.AsyncClient, customer: Person, catalog: Catalog
) -> None:
    sku = await catalog.add(stock=5)
    placed = await place(client, customer, order_body((sku, 2), card="tok_chargeDeclined"))
    order_id = placed.json()["order_id"]
    await order_in(client, customer, order_id, "payment_failed")
    cancelled = await client.post(
        f"/orders/{order_id}/cancel", json={"reason": "changed my mind"}, headers=customer.headers
    )
    assert cancelled.status_code == 202
    order = await order_in(client, customer, order_id, "cancelled")
    assert "changed my mind" in order["status_reason"]
    again = await client.post(f"/orders/{order_id}/cancel", headers=customer.headers)
    assert again.status_code == 409
    assert "cancelled is final" in again.json()["detail"]
    assert again.json()["type"] == "https://shopstream.dev/problems/order-not-cancellable"


async def test_a_delivered_order_cannot_be_cancelled(
    client: httpx.AsyncClient, customer: Person, catalog: Catalog
) -> None:
    sku = await catalog.add(stock=5)
    order_id = (await place(client, customer, order_body((sku, 1)))).json()["order_id"]
    await order_in(client, customer, order_id, "delivered")
    response = await client.post(f"/orders/{order_id}/cancel", json={}, headers=customer.headers)
    assert response.status_code == 409


async def test_out_of_stock_orders_are_rejected_by_the_saga_not_the_gateway(
    client: httpx.AsyncClient, customer: Person, catalog: Catalog
) -> None:
    sku = await catalog.add(stock=1)
    placed = await place(client, customer, order_body((sku, 2)))
    assert placed.status_code == 202
    order = await order_in(client, customer, placed.json()["order_id"], "rejected")
    assert "out of stock" in order["status_reason"]


async def test_an_address_change_is_accepted_before_shipment_and_refused_after_it(
    client: httpx.AsyncClient, customer: Person, catalog: Catalog
) -> None:
    sku = await catalog.add(stock=5)
    failed = (await place(client, customer, order_body((sku, 1), card="tok_chargeDeclined"))).json()
    delivered = (await place(client, customer, order_body((sku, 1)))).json()
    await order_in(client, customer, failed["order_id"], "payment_failed")
    await order_in(client, customer, delivered["order_id"], "delivered")
    change = {"shipping_address": {**ADDRESS, "line1": "1 New Street"}}
    before_shipping = await client.patch(
        f"/orders/{failed['order_id']}", json=change, headers=customer.headers
    )
    after_shipping = await client.patch(
        f"/orders/{delivered['order_id']}", json=change, headers=customer.headers
    )
    assert before_shipping.status_code == 202, before_shipping.text
    assert before_shipping.headers["Location"] == f"/orders/{failed['order_id']}"
    assert after_shipping.status_code == 409
    assert after_shipping.headers["Content-Type"] == "application/problem+json"
    assert "left the warehouse" in after_shipping.json()["detail"]
    assert after_shipping.json()["type"] == "https://shopstream.dev/problems/address-locked"
    # What the saga does with an accepted change: tests/integration/api/test_address_change.py.


@pytest.mark.parametrize(
    ("address", "field"),
    [
        ({**ADDRESS, "country": "Germany"}, "country"),
        ({**ADDRESS, "postal_code": ""}, "postal_code"),
        ({key: value for key, value in ADDRESS.items() if key != "city"}, "city"),
        ({**ADDRESS, "floor": "3"}, "floor"),
    ],
    ids=["country not ISO", "empty postal code", "no city", "unknown field"],
)
async def test_an_invalid_new_address_is_refused_by_name_and_changes_nothing(
    client: httpx.AsyncClient,
    customer: Person,
    catalog: Catalog,
    address: dict[str, str],
    field: str,
) -> None:
    sku = await catalog.add(stock=5)
    placed = await place(client, customer, order_body((sku, 1), card="tok_chargeDeclined"))
    order = await order_in(client, customer, placed.json()["order_id"], "payment_failed")
    refused = await client.patch(
        f"/orders/{order['order_id']}", json={"shipping_address": address}, headers=customer.headers
    )
    assert refused.status_code == 422
    assert refused.headers["Content-Type"] == "application/problem+json"
    assert field in refused.text
    again = await client.get(f"/orders/{order['order_id']}", headers=customer.headers)
    assert again.json()["shipping_address"] == order["shipping_address"]


async def test_an_admin_lists_every_order_by_status_and_customer(
    client: httpx.AsyncClient,
    admin: Person,
    customer: Person,
    other_customer: Person,
    catalog: Catalog,
) -> None:
    sku = await catalog.add(stock=5)
    mine = (await place(client, customer, order_body((sku, 1)))).json()["order_id"]
    theirs = (await place(client, other_customer, order_body((sku, 9)))).json()["order_id"]
    await order_in(client, customer, mine, "delivered")
    await order_in(client, other_customer, theirs, "rejected")
    rejected = await client.get(
        "/admin/orders",
        params={"status": "rejected", "user_id": other_customer.user_id},
        headers=admin.headers,
    )
    everything = await client.get(
        "/admin/orders", params={"user_id": customer.user_id}, headers=admin.headers
    )
    assert [order["order_id"] for order in rejected.json()["items"]] == [theirs]
    assert [order["order_id"] for order in everything.json()["items"]] == [mine]
    as_customer = await client.get("/admin/orders", headers=customer.headers)
    assert as_customer.status_code == 403


async def test_the_admins_time_filters_take_rfc_3339_only(
    client: httpx.AsyncClient, admin: Person
) -> None:
    # Found by schemathesis: "0.5" was read as a Unix time.
    number = await client.get("/admin/orders", params={"placed_to": "0.5"}, headers=admin.headers)
    dated = await client.get(
        "/admin/orders", params={"placed_to": "2026-01-31T09:30:00Z"}, headers=admin.headers
    )
    assert number.status_code == 422
    assert "RFC 3339" in number.json()["detail"]
    assert dated.status_code == 200
