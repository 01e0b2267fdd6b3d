"""The cart over the live gateway: kept per user in PostgreSQL, capped by the inventory's
stock, merged from a guest's lines at sign-in, refused with problem documents."""

from __future__ import annotations

import httpx

from tests.integration.api.conftest import Catalog, Person, sign_in


async def test_a_new_customer_has_an_empty_cart_that_cannot_be_ordered(
    client: httpx.AsyncClient, customer: Person
) -> None:
    cart = (await client.get("/cart", headers=customer.headers)).json()
    assert cart == {
        "lines": [],
        "total_cents": 0,
        "currency": "EUR",
        "orderable": False,
        "notices": [],
    }


async def test_a_line_is_capped_by_the_stock_and_says_so(
    client: httpx.AsyncClient, customer: Person, catalog: Catalog
) -> None:
    mug = await catalog.add(price_cents=1250, stock=3, name="Blue mug")
    response = await client.put(
        f"/cart/lines/{mug}", json={"quantity": 5}, headers=customer.headers
    )
    cart = response.json()
    assert response.status_code == 200, response.text
    assert [(line["sku"], line["quantity"], line["available"]) for line in cart["lines"]] == [
        (mug, 3, 3)
    ]
    assert cart["total_cents"] == 3 * 1250
    assert cart["orderable"] is True
    assert cart["notices"] == ["Only 3 of Blue mug left: your cart holds 3."]


async def test_a_sold_out_product_cannot_be_put_in_the_cart(
    client: httpx.AsyncClient, customer: Person, catalog: Catalog
) -> None:
    mug = await catalog.add(stock=0, name="Gone mug")
    response = await client.put(
        f"/cart/lines/{mug}", json={"quantity": 1}, headers=customer.headers
    )
    assert response.status_code == 409
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"] == "Gone mug is out of stock."
    assert response.json()["type"] == "https://shopstream.dev/problems/out-of-stock"
    assert response.json()["instance"] == f"/cart/lines/{mug}"


async def test_an_unknown_product_is_not_found_and_a_bad_quantity_is_refused(
    client: httpx.AsyncClient, customer: Person
) -> None:
    missing = await client.put(
        "/cart/lines/NO-SUCH-SKU-1", json={"quantity": 1}, headers=customer.headers
    )
    zero = await client.put(
        "/cart/lines/NO-SUCH-SKU-1", json={"quantity": 0}, headers=customer.headers
    )
    assert missing.status_code == 404
    assert missing.json()["detail"] == "No product NO-SUCH-SKU-1."
    assert zero.status_code == 422
    assert zero.headers["content-type"] == "application/problem+json"


async def test_the_cart_needs_a_signed_in_customer(client: httpx.AsyncClient) -> None:
    response = await client.get("/cart")
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"


async def test_the_cart_survives_signing_in_again(
    client: httpx.AsyncClient, customer: Person, catalog: Catalog
) -> None:
    mug = await catalog.add(stock=5)
    await client.put(f"/cart/lines/{mug}", json={"quantity": 2}, headers=customer.headers)
    again = await sign_in(client, customer.email)
    cart = (await client.get("/cart", headers=again.headers)).json()
    assert [(line["sku"], line["quantity"]) for line in cart["lines"]] == [(mug, 2)]


async def test_a_guest_cart_merges_into_the_account_capped_and_explained(
    client: httpx.AsyncClient, customer: Person, catalog: Catalog
) -> None:
    mug = await catalog.add(stock=4, name="Merge mug")
    pot = await catalog.add(stock=10, name="Merge pot")
    gone = await catalog.add(stock=0, name="Merge vase")
    await client.put(f"/cart/lines/{mug}", json={"quantity": 3}, headers=customer.headers)
    guest_lines = [
        {"sku": mug, "quantity": 2},
        {"sku": pot, "quantity": 1},
        {"sku": gone, "quantity": 1},
        {"sku": "NEVER-SOLD-1", "quantity": 1},
    ]
    response = await client.post(
        "/cart/merge", json={"lines": guest_lines}, headers=customer.headers
    )
    cart = response.json()
    assert response.status_code == 200, response.text
    assert [(line["sku"], line["quantity"]) for line in cart["lines"]] == [(mug, 4), (pot, 1)]
    assert cart["notices"] == [
        "Only 4 of Merge mug left: your cart holds 4.",
        "Merge vase is out of stock and was left out.",
        "NEVER-SOLD-1 is no longer sold and was left out.",
    ]


async def test_stock_sold_after_adding_shows_as_the_lines_problem(
    client: httpx.AsyncClient, customer: Person, catalog: Catalog
) -> None:
    mug = await catalog.add(stock=5, name="Popular mug")
    await client.put(f"/cart/lines/{mug}", json={"quantity": 4}, headers=customer.headers)
    await catalog.set_stock(mug, 2)
    cart = (await client.get("/cart", headers=customer.headers)).json()
    assert cart["orderable"] is False
    assert cart["lines"][0]["problem"] == (
        "Only 2 of Popular mug left; lower the quantity to check out."
    )
    await catalog.set_stock(mug, 0)
    cart = (await client.get("/cart", headers=customer.headers)).json()
    assert cart["lines"][0]["problem"] == "Popular mug has sold out; remove it to check out."


async def test_lines_are_removed_one_by_one_or_all_at_once(
    client: httpx.AsyncClient, customer: Person, catalog: Catalog
) -> None:
    mug = await catalog.add(stock=5)
    pot = await catalog.add(stock=5)
    for sku in (mug, pot):
        await client.put(f"/cart/lines/{sku}", json={"quantity": 1}, headers=customer.headers)
    after_remove = await client.delete(f"/cart/lines/{mug}", headers=customer.headers)
    assert [line["sku"] for line in after_remove.json()["lines"]] == [pot]
    cleared = await client.delete("/cart", headers=customer.headers)
    assert cleared.status_code == 204
    assert (await client.get("/cart", headers=customer.headers)).json()["lines"] == []


async def test_one_customers_cart_is_not_anothers(
    client: httpx.AsyncClient, customer: Person, other_customer: Person, catalog: Catalog
) -> None:
    mug = await catalog.add(stock=5)
    await client.put(f"/cart/lines/{mug}", json={"quantity": 1}, headers=customer.headers)
    theirs = (await client.get("/cart", headers=other_customer.headers)).json()
    assert theirs["lines"] == []
