"""The demo shop loaded twice into the real stack, and read back through the live gateway.

The shipped demo (``api/demo.toml``) is loaded under SKUs and emails of this test's own, so
that it meets neither the stack's own demo nor another test's.
"""

from __future__ import annotations

import asyncpg
import httpx
import pytest

from api.demo import Demo, load_demo
from shopstream.settings import Settings
from tests.integration.api.conftest import eventually, sign_in


def tagged(demo: Demo, tag: str) -> Demo:
    def email(address: str) -> str:
        local, domain = address.split("@")
        return f"{local}-{tag}@{domain}"

    return demo.model_copy(
        update={
            "customer": demo.customer.model_copy(update={"email": email(demo.customer.email)}),
            "admin": demo.admin.model_copy(update={"email": email(demo.admin.email)}),
            "products": [p.model_copy(update={"sku": f"T{tag}-{p.sku}"}) for p in demo.products],
        }
    )


@pytest.fixture
def demo(unique: str) -> Demo:
    return tagged(Demo.from_file(), unique)


async def test_loading_the_demo_twice_makes_each_product_stock_and_account_once(
    stack_settings: Settings, worker: None, client: httpx.AsyncClient, demo: Demo
) -> None:
    first = await load_demo(stack_settings, demo)
    second = await load_demo(stack_settings, demo)

    assert (first.products_created, first.accounts_created) == (len(demo.products), 2)
    assert (second.products_created, second.accounts_created) == (0, 0)
    assert first.stock_pending == second.stock_pending == ()
    skus = [product.sku for product in demo.products]
    emails = [demo.customer.email, demo.admin.email]
    connection = await asyncpg.connect(stack_settings.database_url.get_secret_value())
    try:
        assert await connection.fetchval(
            "SELECT count(*) FROM products WHERE sku = ANY($1)", skus
        ) == len(skus)
        assert (
            await connection.fetchval("SELECT count(*) FROM users WHERE email = ANY($1)", emails)
            == 2
        )
    finally:
        await connection.close()
    for product in demo.products:
        shown = (await client.get(f"/products/{product.sku}")).json()
        assert (shown["name"], shown["description"], shown["category"]) == (
            product.name,
            product.description,
            product.category,
        )
        assert (shown["price_cents"], shown["currency"]) == (product.price_cents, "EUR")
        assert shown["stock"]["on_hand"] == product.stock
        assert len(shown["images"]) == 1
        picture = await client.get(shown["images"][0]["url"])  # the bucket, as a browser reads it
        assert picture.status_code == 200
        assert picture.content == product.picture()


async def test_the_demo_accounts_sign_in_as_a_customer_and_as_an_admin(
    stack_settings: Settings, worker: None, client: httpx.AsyncClient, demo: Demo
) -> None:
    await load_demo(stack_settings, demo)

    customer = await sign_in(client, demo.customer.email, demo.customer.password)
    admin = await sign_in(client, demo.admin.email, demo.admin.password)

    me = await client.get("/users/me", headers=customer.headers)
    assert (me.json()["role"], me.json()["name"]) == ("customer", demo.customer.name)
    assert (await client.get("/users/me", headers=admin.headers)).json()["role"] == "admin"


async def test_a_second_load_leaves_stock_that_changed_since_as_it_is(
    stack_settings: Settings, worker: None, client: httpx.AsyncClient, demo: Demo
) -> None:
    await load_demo(stack_settings, demo)
    admin = await sign_in(client, demo.admin.email, demo.admin.password)
    product = next(product for product in demo.products if product.stock > 2)

    async def take_one() -> None:
        answer = await client.post(
            f"/products/{product.sku}/stock", json={"delta": -1}, headers=admin.headers
        )
        assert answer.status_code == 202, answer.text

    await take_one()
    await load_demo(stack_settings, demo)
    # Commands for one SKU are applied in the order sent: had the second load sent a
    # stocktake, the next change would land on it and show one unit more than this.
    await take_one()
    await eventually(
        lambda: client.get(f"/products/{product.sku}"),
        lambda r: r.json()["stock"]["on_hand"] == product.stock - 2,
    )
