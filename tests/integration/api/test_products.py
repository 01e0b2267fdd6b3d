"""The catalog over the live gateway: browsing, search, admin changes, images, stock."""

from __future__ import annotations

import struct
import uuid
import zlib

import httpx
import pytest

from tests.integration.api.conftest import Catalog, Person, order_body, place


def _png() -> bytes:
    """A real 1x1 PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\x00\x00")
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


async def test_an_admin_adds_a_product_and_anyone_can_read_it(
    client: httpx.AsyncClient, admin: Person
) -> None:
    sku = f"T-{uuid.uuid4().hex[:12]}"
    created = await client.post(
        "/products",
        json={"sku": sku, "name": "Teapot", "category": "kitchen", "price_cents": 3200},
        headers=admin.headers,
    )
    read = await client.get(f"/products/{sku}")
    assert created.status_code == 201
    assert created.headers["location"] == f"/products/{sku}"
    assert read.status_code == 200
    assert read.json()["currency"] == "EUR"  # the shop's currency by default
    assert read.json()["stock"] == {"on_hand": 0, "reserved": 0, "available": 0, "in_stock": False}


async def test_a_sku_is_taken_once(
    client: httpx.AsyncClient, admin: Person, catalog: Catalog
) -> None:
    sku = await catalog.add()
    again = await client.post(
        "/products",
        json={"sku": sku, "name": "Other", "category": "kitchen", "price_cents": 1},
        headers=admin.headers,
    )
    assert again.status_code == 409
    assert again.json()["type"] == "https://shopstream.dev/problems/sku-taken"


async def test_customers_and_strangers_cannot_change_the_catalog(
    client: httpx.AsyncClient, customer: Person, catalog: Catalog
) -> None:
    sku = await catalog.add()
    body = {
        "sku": f"T-{uuid.uuid4().hex[:12]}",
        "name": "X",
        "category": "kitchen",
        "price_cents": 1,
    }
    attempts = [
        ("POST", "/products", body),
        ("PATCH", f"/products/{sku}", {"price_cents": 1}),
        ("DELETE", f"/products/{sku}", None),
        ("POST", f"/products/{sku}/stock", {"set_to": 1000}),
        ("DELETE", f"/products/{sku}/images/img_{'0' * 32}", None),
    ]
    for method, path, json in attempts:
        as_customer = await client.request(method, path, json=json, headers=customer.headers)
        as_stranger = await client.request(method, path, json=json)
        assert as_customer.status_code == 403, (method, path)
        assert as_stranger.status_code == 401, (method, path)
    assert (await client.get(f"/products/{sku}")).json()["price_cents"] == 1250


async def test_filters_sorting_and_pages(client: httpx.AsyncClient, catalog: Catalog) -> None:
    category = f"cat-{uuid.uuid4().hex[:10]}"
    cheap = await catalog.add(price_cents=500, category=category, name="Alpha cup")
    middle = await catalog.add(price_cents=1500, category=category, name="Beta cup", stock=3)
    dear = await catalog.add(price_cents=2500, category=category, name="Gamma cup")

    async def skus(**params: str | int) -> list[str]:
        response = await client.get("/products", params={"category": category, **params})
        assert response.status_code == 200, response.text
        return [item["sku"] for item in response.json()["items"]]

    assert await skus(sort="price") == [cheap, middle, dear]
    assert await skus(sort="-price") == [dear, middle, cheap]
    assert await skus(sort="-name") == [dear, middle, cheap]
    assert await skus(min_price_cents=1000, max_price_cents=2000) == [middle]
    assert await skus(in_stock="true") == [middle]
    assert sorted(await skus(in_stock="false")) == sorted([cheap, dear])
    second = await client.get(
        "/products", params={"category": category, "sort": "price", "page": 2, "page_size": 2}
    )
    assert second.json()["total"] == 3
    assert [item["sku"] for item in second.json()["items"]] == [dear]
    past_the_end = await client.get("/products", params={"category": category, "page": 9})
    assert past_the_end.json() == {"items": [], "total": 3, "page": 9, "page_size": 20}


async def test_full_text_search_ranks_name_matches_first(
    client: httpx.AsyncClient, catalog: Catalog
) -> None:
    word = f"zq{uuid.uuid4().hex[:8]}"
    in_description = await catalog.add(name="Plain bowl", description=f"Goes with any {word}.")
    in_name = await catalog.add(name=f"{word} teapot", description="Cast iron.")
    found = await client.get("/products", params={"q": word})
    assert [item["sku"] for item in found.json()["items"]] == [in_name, in_description]
    nothing = await client.get("/products", params={"q": f"{word} -teapot -bowl"})
    assert nothing.json()["total"] == 0


async def test_page_size_is_capped(client: httpx.AsyncClient) -> None:
    response = await client.get("/products", params={"page_size": 101})
    assert response.status_code == 422
    assert "query.page_size" in response.json()["detail"]


async def test_unknown_product_is_a_problem_404(client: httpx.AsyncClient) -> None:
    response = await client.get("/products/NO-SUCH-SKU-ANYWHERE")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


async def test_an_admin_changes_a_price_and_new_orders_pay_it(
    client: httpx.AsyncClient, admin: Person, customer: Person, catalog: Catalog
) -> None:
    sku = await catalog.add(price_cents=1000)
    changed = await client.patch(
        f"/products/{sku}", json={"price_cents": 1200}, headers=admin.headers
    )
    placed = await place(client, customer, order_body((sku, 2)))
    assert changed.status_code == 200
    assert changed.json()["price_cents"] == 1200
    assert placed.json()["total_cents"] == 2400


async def test_an_update_refuses_unknown_fields_and_empty_changes(
    client: httpx.AsyncClient, admin: Person, catalog: Catalog
) -> None:
    sku = await catalog.add()
    stock = await client.patch(f"/products/{sku}", json={"stock": 5}, headers=admin.headers)
    empty = await client.patch(f"/products/{sku}", json={}, headers=admin.headers)
    assert stock.status_code == 422
    assert "body.stock: Extra inputs are not permitted" in stock.json()["detail"]
    assert empty.status_code == 422


async def test_a_price_is_a_json_number_not_a_boolean_or_a_text(
    client: httpx.AsyncClient, admin: Person
) -> None:
    # Found by schemathesis: false was taken for 0, a free product.
    def body(price: object) -> dict[str, object]:
        sku = f"T-{uuid.uuid4().hex[:12]}"
        return {"sku": sku, "name": "Mug", "category": "kitchen", "price_cents": price}

    refused = [
        await client.post("/products", json=body(price), headers=admin.headers)
        for price in (False, "1299", 12.5)
    ]
    whole = await client.post("/products", json=body(1299.0), headers=admin.headers)
    for response in refused:
        assert response.status_code == 422, response.text
        assert [error["location"] for error in response.json()["errors"]] == ["body.price_cents"]
    assert whole.status_code == 201, whole.text  # 1299.0 is an integer, as JSON Schema says
    assert whole.json()["price_cents"] == 1299


async def test_a_withdrawn_product_is_gone_from_the_catalog_and_cannot_be_ordered(
    client: httpx.AsyncClient, admin: Person, customer: Person, catalog: Catalog
) -> None:
    sku = await catalog.add()
    withdrawn = await client.delete(f"/products/{sku}", headers=admin.headers)
    again = await client.delete(f"/products/{sku}", headers=admin.headers)
    order = await place(client, customer, order_body((sku, 1)))
    assert withdrawn.status_code == 204
    assert again.status_code == 404
    assert (await client.get(f"/products/{sku}")).status_code == 404
    assert order.status_code == 422
    assert sku in order.json()["detail"]


async def test_an_image_is_stored_in_s3_and_its_url_serves_it(
    client: httpx.AsyncClient, admin: Person, catalog: Catalog
) -> None:
    sku = await catalog.add()
    png = _png()
    uploaded = await client.post(
        f"/products/{sku}/images",
        files={"file": ("mug.png", png, "application/octet-stream")},
        headers=admin.headers,
    )
    assert uploaded.status_code == 201, uploaded.text
    image = uploaded.json()
    assert image["content_type"] == "image/png"  # from the bytes, not the client's claim
    async with httpx.AsyncClient() as plain:
        served = await plain.get(image["url"])
    assert served.content == png
    product = (await client.get(f"/products/{sku}")).json()
    assert [item["image_id"] for item in product["images"]] == [image["image_id"]]

    removed = await client.delete(
        f"/products/{sku}/images/{image['image_id']}", headers=admin.headers
    )
    assert removed.status_code == 204
    assert (await client.get(f"/products/{sku}")).json()["images"] == []


@pytest.mark.parametrize(
    ("content", "status"),
    [(b"GIF89a not accepted here", 415), (b"\x89PNG\r\n\x1a\n" + b"\0" * (5 * 1024 * 1024), 413)],
    ids=["not an accepted image type", "over 5 MiB"],
)
async def test_images_that_are_not_accepted(
    content: bytes, status: int, client: httpx.AsyncClient, admin: Person, catalog: Catalog
) -> None:
    sku = await catalog.add()
    response = await client.post(
        f"/products/{sku}/images",
        files={"file": ("x.png", content, "image/png")},
        headers=admin.headers,
    )
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"


async def test_stock_adjustments_go_through_the_inventory_and_show_in_the_catalog(
    client: httpx.AsyncClient, admin: Person, catalog: Catalog
) -> None:
    sku = await catalog.add(stock=10)  # waits until the read model shows 10
    await catalog.set_stock(sku, 4)
    corrected = await client.post(
        f"/products/{sku}/stock", json={"delta": -1}, headers=admin.headers
    )
    assert corrected.status_code == 202
    product = await client.get(f"/products/{sku}")
    while product.json()["stock"]["on_hand"] != 3:
        product = await client.get(f"/products/{sku}")
    assert product.json()["stock"]["in_stock"] is True


async def test_a_stock_adjustment_gives_exactly_one_of_delta_or_set_to(
    client: httpx.AsyncClient, admin: Person, catalog: Catalog
) -> None:
    sku = await catalog.add()
    both = await client.post(
        f"/products/{sku}/stock", json={"delta": 1, "set_to": 2}, headers=admin.headers
    )
    neither = await client.post(f"/products/{sku}/stock", json={}, headers=admin.headers)
    unknown = await client.post(
        "/products/NO-SUCH-SKU-ANYWHERE/stock", json={"set_to": 2}, headers=admin.headers
    )
    assert both.status_code == neither.status_code == 422
    assert unknown.status_code == 404


async def test_admin_changes_to_what_does_not_exist_are_404(
    client: httpx.AsyncClient, admin: Person, catalog: Catalog
) -> None:
    sku = await catalog.add()
    missing = "NO-SUCH-SKU-ANYWHERE"
    update = await client.patch(
        f"/products/{missing}", json={"price_cents": 1}, headers=admin.headers
    )
    upload = await client.post(
        f"/products/{missing}/images",
        files={"file": ("x.png", _png(), "image/png")},
        headers=admin.headers,
    )
    image = await client.delete(f"/products/{sku}/images/img_{'0' * 32}", headers=admin.headers)
    assert update.status_code == upload.status_code == image.status_code == 404
