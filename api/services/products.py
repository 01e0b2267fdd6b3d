"""The catalog in PostgreSQL, images in S3, and stock from the inventory's read model.

A price change is published as ProductPriceChanged through the outbox (``api.outbox``): the
event row is committed in the transaction that changes the price, so the two never disagree.

Stock is never written here: the inventory agent is the one writer of a SKU's stock, so an
admin's adjustment is an ``AdjustStock`` command to it, and what the catalog shows comes from
its read model (``stock_levels``, kept by the stream worker), joined in the same query so that
"in stock only" filters and pages correctly.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any, Final

import asyncpg

from api.outbox import Outbox
from api.problem_types import ProblemType
from api.problems import ApiError
from api.schemas.products import (
    ImagePublic,
    ProductCreate,
    ProductPage,
    ProductPublic,
    ProductSort,
    ProductUpdate,
    StockAdjustment,
    StockPublic,
)
from api.services.events import publish, request_trace
from shopstream.logs import get_logger
from shopstream.settings import Settings
from streams.contract import AdjustStock, ProductPriceChanged
from streams.publisher import EventPublisher

log = get_logger(__name__)

# One row per product with its stock and its images (as JSON): a page is one round trip.
_COLUMNS: Final = """
p.sku, p.name, p.description, p.category, p.price_cents, p.currency,
       p.created_at, p.updated_at,
       coalesce(s.on_hand, 0) AS on_hand, coalesce(s.reserved, 0) AS reserved,
       coalesce(s.available, 0) AS available,
       coalesce(
           (SELECT json_agg(json_build_object(
                       'image_id', i.image_id, 'url', i.url,
                       'content_type', i.content_type, 'size_bytes', i.size_bytes)
                   ORDER BY i.created_at, i.image_id)
              FROM product_images AS i WHERE i.sku = p.sku),
           '[]')::text AS images
"""
_FROM: Final = "FROM products AS p LEFT JOIN stock_levels AS s ON s.sku = p.sku"


# Filters as parameters ($1..$5), each switched off by NULL: one statement, planned once.
_FILTERS: Final = """
WHERE p.deleted_at IS NULL
  AND ($1::text IS NULL OR p.category = $1)
  AND ($2::bigint IS NULL OR p.price_cents >= $2)
  AND ($3::bigint IS NULL OR p.price_cents <= $3)
  AND ($4::boolean IS NULL OR (coalesce(s.available, 0) > 0) = $4)
  AND ($5::text IS NULL OR p.search @@ websearch_to_tsquery('english', $5))
"""

# The sku breaks ties, so that pages never overlap or skip a product.
_ORDER_BY: Final[dict[ProductSort, str]] = {
    ProductSort.RELEVANCE: (
        "ts_rank(p.search, websearch_to_tsquery('english', $5)) DESC, p.created_at DESC, p.sku"
    ),
    ProductSort.NEWEST: "p.created_at DESC, p.sku",
    ProductSort.PRICE: "p.price_cents, p.sku",
    ProductSort.PRICE_DESC: "p.price_cents DESC, p.sku",
    ProductSort.NAME: "p.name, p.sku",
    ProductSort.NAME_DESC: "p.name DESC, p.sku",
}

_IMAGE_TYPES: Final = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp"}


@dataclass(frozen=True, slots=True)
class ProductFilters:
    category: str | None = None
    min_price_cents: int | None = None
    max_price_cents: int | None = None
    in_stock: bool | None = None
    q: str | None = None
    sort: ProductSort = ProductSort.RELEVANCE
    page: int = 1
    page_size: int = 20


def _product(row: asyncpg.Record) -> ProductPublic:
    return ProductPublic(
        sku=row["sku"],
        name=row["name"],
        description=row["description"],
        category=row["category"],
        price_cents=row["price_cents"],
        currency=row["currency"],
        stock=StockPublic(
            on_hand=row["on_hand"],
            reserved=row["reserved"],
            available=row["available"],
            in_stock=row["available"] > 0,
        ),
        images=[ImagePublic.model_validate(image) for image in json.loads(row["images"])],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


async def list_products(pool: asyncpg.Pool, filters: ProductFilters) -> ProductPage:
    sort = filters.sort
    if sort is ProductSort.RELEVANCE and filters.q is None:
        sort = ProductSort.NEWEST  # nothing to rank by
    sql = f"""
    SELECT count(*) OVER () AS total, {_COLUMNS}
    {_FROM}
    {_FILTERS}
    ORDER BY {_ORDER_BY[sort]}
    LIMIT $6 OFFSET $7
    """
    rows = await pool.fetch(
        sql,
        filters.category,
        filters.min_price_cents,
        filters.max_price_cents,
        filters.in_stock,
        filters.q,
        filters.page_size,
        (filters.page - 1) * filters.page_size,
    )
    total = rows[0]["total"] if rows else await _count(pool, filters)
    return ProductPage(
        items=[_product(row) for row in rows],
        total=total,
        page=filters.page,
        page_size=filters.page_size,
    )


async def _count(pool: asyncpg.Pool, filters: ProductFilters) -> int:
    # A page past the end has no rows to carry the window count; ask for it alone.
    sql = f"""
    SELECT count(*) {_FROM}
    {_FILTERS}
    """
    total: int = await pool.fetchval(
        sql,
        filters.category,
        filters.min_price_cents,
        filters.max_price_cents,
        filters.in_stock,
        filters.q,
    )
    return total


async def get_product(pool: asyncpg.Pool, sku: str) -> ProductPublic:
    row = await pool.fetchrow(
        f"SELECT {_COLUMNS} {_FROM} WHERE p.sku = $1 AND p.deleted_at IS NULL",
        sku,
    )
    if row is None:
        raise ApiError(ProblemType.PRODUCT_NOT_FOUND, f"No product {sku}.")
    return _product(row)


async def create_product(
    pool: asyncpg.Pool, body: ProductCreate, settings: Settings
) -> ProductPublic:
    inserted = await pool.fetchval(
        """
        INSERT INTO products (sku, name, description, category, price_cents, currency)
        VALUES ($1, $2, $3, $4, $5, $6)
        ON CONFLICT (sku) DO NOTHING
        RETURNING sku
        """,
        body.sku,
        body.name,
        body.description,
        body.category,
        body.price_cents,
        body.currency or settings.shop_currency,
    )
    if inserted is None:
        raise ApiError(
            ProblemType.SKU_TAKEN,
            f"SKU {body.sku} exists (or existed: a withdrawn product's SKU is never reused).",
        )
    return await get_product(pool, body.sku)


async def update_product(
    pool: asyncpg.Pool, outbox: Outbox, sku: str, body: ProductUpdate
) -> ProductPublic:
    changes = body.changes()
    assignments = ", ".join(f"{name} = ${index}" for index, name in enumerate(changes, start=2))
    async with pool.acquire() as connection, connection.transaction():
        # The old price is read in the same statement (the row is locked by the UPDATE until
        # the commit), so the event below describes exactly the change this update made.
        row = await connection.fetchrow(
            f"""
            WITH old AS (
                SELECT sku, price_cents, currency FROM products
                 WHERE sku = $1 AND deleted_at IS NULL
                   FOR UPDATE
            )
            UPDATE products AS p SET {assignments}, updated_at = now()
              FROM old
             WHERE p.sku = old.sku
            RETURNING old.price_cents AS old_price_cents, old.currency AS old_currency,
                      p.price_cents, p.currency
            """,  # noqa: S608 - column names come from the model's fields, values are parameters
            sku,
            *changes.values(),
        )
        if row is None:
            raise ApiError(ProblemType.PRODUCT_NOT_FOUND, f"No product {sku}.")
        repriced = (row["old_price_cents"], row["old_currency"]) != (
            row["price_cents"],
            row["currency"],
        )
        if repriced:
            changed = ProductPriceChanged(
                sku=sku,
                old_price_cents=row["old_price_cents"],
                old_currency=row["old_currency"],
                price_cents=row["price_cents"],
                currency=row["currency"],
                **request_trace(),
            )
            await outbox.add(connection, changed)
    if repriced:
        outbox.wake()
        log.info(
            "product price changed",
            sku=sku,
            old_price_cents=row["old_price_cents"],
            old_currency=row["old_currency"],
            price_cents=row["price_cents"],
            currency=row["currency"],
        )
    return await get_product(pool, sku)


async def withdraw_product(pool: asyncpg.Pool, sku: str) -> None:
    withdrawn = await pool.fetchval(
        """
        UPDATE products SET deleted_at = now(), updated_at = now()
         WHERE sku = $1 AND deleted_at IS NULL
        RETURNING sku
        """,
        sku,
    )
    if withdrawn is None:
        raise ApiError(ProblemType.PRODUCT_NOT_FOUND, f"No product {sku}.")


async def adjust_stock(
    pool: asyncpg.Pool, publisher: EventPublisher, sku: str, adjustment: StockAdjustment
) -> None:
    """Send the adjustment to the inventory agent; returns once Kafka has it."""
    await get_product(pool, sku)  # 404 for a SKU the catalog does not sell
    command = AdjustStock(
        sku=sku, delta=adjustment.delta, set_to=adjustment.set_to, **request_trace()
    )
    await publish(publisher, [command])


def image_type(data: bytes) -> str | None:
    """The image's media type from its first bytes (the client's Content-Type is not trusted)."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def image_url(settings: Settings, key: str) -> str:
    if settings.product_images_base_url:
        return f"{settings.product_images_base_url.rstrip('/')}/{key}"
    bucket = settings.product_images_bucket
    if settings.aws_endpoint_url:  # moto (or another S3-compatible endpoint): path style
        return f"{settings.aws_endpoint_url.rstrip('/')}/{bucket}/{key}"
    return f"https://{bucket}.s3.{settings.aws_region}.amazonaws.com/{key}"


async def add_image(
    pool: asyncpg.Pool, s3: Any, settings: Settings, sku: str, data: bytes
) -> ImagePublic:
    await get_product(pool, sku)
    content_type = image_type(data)
    if content_type is None:
        raise ApiError(
            ProblemType.UNSUPPORTED_IMAGE_TYPE, "Only PNG, JPEG and WebP images are accepted."
        )
    image_id = f"img_{uuid.uuid4().hex}"
    key = f"products/{sku}/{image_id}.{_IMAGE_TYPES[content_type]}"
    # The object first: a row never points at an image that is not there. A crash between the
    # two leaves an unreferenced object, which costs storage, not correctness.
    await s3.put_object(
        Bucket=settings.product_images_bucket,
        Key=key,
        Body=data,
        ContentType=content_type,
        CacheControl="public, max-age=31536000, immutable",  # a key is never rewritten
    )
    image = ImagePublic(
        image_id=image_id,
        url=image_url(settings, key),
        content_type=content_type,
        size_bytes=len(data),
    )
    await pool.execute(
        """
        INSERT INTO product_images (image_id, sku, object_key, url, content_type, size_bytes)
        VALUES ($1, $2, $3, $4, $5, $6)
        """,
        image.image_id,
        sku,
        key,
        image.url,
        image.content_type,
        image.size_bytes,
    )
    return image


async def delete_image(
    pool: asyncpg.Pool, s3: Any, settings: Settings, sku: str, image_id: str
) -> None:
    key = await pool.fetchval(
        "DELETE FROM product_images WHERE image_id = $1 AND sku = $2 RETURNING object_key",
        image_id,
        sku,
    )
    if key is None:
        raise ApiError(ProblemType.IMAGE_NOT_FOUND, f"No image {image_id} on product {sku}.")
    await s3.delete_object(Bucket=settings.product_images_bucket, Key=key)
