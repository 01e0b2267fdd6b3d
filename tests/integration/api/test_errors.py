"""Every refusal is a problem document (RFC 9457) that says what is wrong."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from tests.integration.api.conftest import ADDRESS, Person, order_body, place

PROBLEM = "application/problem+json"


async def test_an_unknown_path_is_a_problem_404(client: httpx.AsyncClient) -> None:
    response = await client.get("/no/such/thing")
    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["detail"] == "No resource at /no/such/thing."


async def test_a_wrong_method_is_a_problem_405(client: httpx.AsyncClient) -> None:
    response = await client.put("/products")
    assert response.status_code == 405
    assert response.headers["content-type"] == PROBLEM


async def test_a_405_allows_every_method_the_path_has(client: httpx.AsyncClient) -> None:
    # Found by schemathesis: Allow named the methods of the path's first route only ("POST"
    # on /orders, whose GET is another route).
    orders = await client.request("OPTIONS", "/orders")
    product = await client.put("/products/MUG-01")
    assert orders.status_code == product.status_code == 405
    assert orders.headers["allow"] == "GET, POST"
    assert product.headers["allow"] == "DELETE, GET, PATCH"


async def test_a_body_declared_too_large_is_refused_before_it_is_read(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post(
        "/users", content=b"{" + b" " * 70_000 + b"}", headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert response.headers["content-type"] == PROBLEM
    assert "65536 bytes" in response.json()["detail"]


async def test_a_streamed_body_is_cut_off_at_the_cap(client: httpx.AsyncClient) -> None:
    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: chunked encoding
        yield b'{"email": "'
        for _ in range(20):
            yield b"a" * 8192
        yield b'"}'

    response = await client.post(
        "/auth/login", content=chunks(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert response.headers["content-type"] == PROBLEM


async def test_a_body_that_is_not_json_is_a_problem_400_or_422(client: httpx.AsyncClient) -> None:
    not_utf8 = await client.post(
        "/auth/login", content=b"\xff\xfe\x00", headers={"content-type": "application/json"}
    )
    not_json = await client.post(
        "/auth/login", content=b"{email: 1", headers={"content-type": "application/json"}
    )
    assert not_utf8.status_code == 400
    assert not_json.status_code == 422
    assert not_utf8.headers["content-type"] == not_json.headers["content-type"] == PROBLEM


async def test_validation_problems_list_each_field_and_reason(
    client: httpx.AsyncClient, customer: Person
) -> None:
    response = await client.post(
        "/orders",
        json={"lines": [], "payment_token": "", "coupon": "FREE"},
        headers={**customer.headers, "Idempotency-Key": "k"},
    )
    body = response.json()
    assert response.status_code == 422
    locations = {error["location"] for error in body["errors"]}
    assert {"body.lines", "body.payment_token", "body.shipping_address", "body.coupon"} <= locations


async def test_text_postgresql_cannot_store_is_a_422_not_a_500(client: httpx.AsyncClient) -> None:
    # Found by schemathesis: a NUL in an email used to reach the query and fail there.
    login = await client.post(
        "/auth/login", json={"email": "a\u0000b@example.com", "password": "x"}
    )
    search = await client.get("/products", params={"q": "mug\u0000"})
    assert login.status_code == search.status_code == 422
    assert "NUL" in login.json()["detail"]


async def test_a_control_character_in_any_order_text_is_a_422_naming_the_field(
    client: httpx.AsyncClient, customer: Person
) -> None:
    # It used to be accepted (202) and break the status projection later.
    nul_name = order_body(("MUG-01", 1))
    nul_name["shipping_address"] = {**ADDRESS, "name": "Ada\u0000Lovelace"}
    placed = await place(client, customer, nul_name)
    patched = await client.patch(
        "/orders/ord_unknown",
        json={"shipping_address": {**ADDRESS, "line1": "12 St James's\u001b[2J Square"}},
        headers=customer.headers,
    )
    cancelled = await client.post(
        "/orders/ord_unknown/cancel", json={"reason": "no\u0007"}, headers=customer.headers
    )
    for response, field in (
        (placed, "body.shipping_address.name"),
        (patched, "body.shipping_address.line1"),
        (cancelled, "body.reason"),
    ):
        assert response.status_code == 422, response.text
        assert response.headers["content-type"] == PROBLEM
        assert [error["location"] for error in response.json()["errors"]] == [field]
        assert "control characters" in response.json()["detail"]


@pytest.mark.parametrize("card", ["4242424242424242", "4000 0566 5566 5556"])
async def test_a_card_number_as_payment_token_is_refused_and_not_echoed(
    client: httpx.AsyncClient, customer: Person, card: str
) -> None:
    placed = await place(client, customer, order_body(("MUG-01", 1), card=card))
    retried = await client.post(
        "/orders/ord_unknown/payment", json={"payment_token": card}, headers=customer.headers
    )
    for response in (placed, retried):
        assert response.status_code == 422, response.text
        assert response.headers["content-type"] == PROBLEM
        problem = response.json()
        assert [error["location"] for error in problem["errors"]] == ["body.payment_token"]
        assert "send a provider token, never a card number" in problem["detail"]
        assert card not in response.text
