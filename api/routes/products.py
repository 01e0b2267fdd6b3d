"""The catalog: browse and search (anyone), manage (admins), stock adjustments (admins)."""

from __future__ import annotations

from typing import Annotated, Final

from fastapi import APIRouter, File, Path, Query, Response, UploadFile, status

from api.deps import AdminUser, OutboxDep, PoolDep, PublisherDep, S3Dep, SettingsDep
from api.openapi import LOCATION, problems
from api.problem_types import ProblemType
from api.problems import ApiError
from api.schemas.common import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, SKU_PATTERN, Cents, CleanStr
from api.schemas.products import (
    Category,
    ImagePublic,
    ProductCreate,
    ProductPage,
    ProductPublic,
    ProductSort,
    ProductUpdate,
    StockAdjustment,
    StockAdjustmentAccepted,
)
from api.services import products
from api.services.products import ProductFilters

MAX_IMAGE_BYTES: Final = 5 * 1024 * 1024
# The multipart envelope around the file (boundaries, part headers) needs a little room.
_UPLOAD_LIMIT: Final = MAX_IMAGE_BYTES + 16 * 1024
# Applied by api.limits.BodyLimitMiddleware, which runs before routing.
BODY_LIMITS: Final = {r"^/products/[^/]+/images$": _UPLOAD_LIMIT}
# Deep offsets make PostgreSQL read and discard every row before them; nobody pages that far.
MAX_PAGE: Final = 500

router = APIRouter(tags=["products"])

SkuPath = Annotated[str, Path(pattern=SKU_PATTERN, examples=["MUG-01"])]
ADMIN_ERRORS: Final = (401, 403, 404)


@router.get("/products", summary="Browse, filter and search the catalog")
async def list_products(
    pool: PoolDep,
    q: Annotated[
        CleanStr | None,
        Query(min_length=1, max_length=200, description="Full-text search (web-search syntax)"),
    ] = None,
    category: Category | None = None,
    min_price_cents: Cents | None = None,
    max_price_cents: Cents | None = None,
    in_stock: Annotated[bool | None, Query(description="Only what can be ordered now")] = None,
    sort: ProductSort = ProductSort.RELEVANCE,
    page: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1,
    page_size: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = DEFAULT_PAGE_SIZE,
) -> ProductPage:
    """Anyone may browse: no token needed. ``q`` searches the catalog (web-search syntax: quoted
    phrases, ``-word``, ``or``) and ranks by relevance; without it the default order is the newest
    first. Filters combine; pages are numbered from 1."""
    filters = ProductFilters(
        category=category,
        min_price_cents=min_price_cents,
        max_price_cents=max_price_cents,
        in_stock=in_stock,
        q=q,
        sort=sort,
        page=page,
        page_size=page_size,
    )
    return await products.list_products(pool, filters)


@router.get("/products/{sku}", summary="One product", responses=problems(404))
async def get_product(sku: SkuPath, pool: PoolDep) -> ProductPublic:
    """Anyone; a withdrawn product is 404. Its stock is the inventory's, as the read model last saw
    it."""
    return await products.get_product(pool, sku)


@router.post(
    "/products",
    status_code=status.HTTP_201_CREATED,
    summary="Add a product (admin)",
    responses={201: {"headers": LOCATION}, **problems(401, 403, 409, 413)},
)
async def create_product(
    body: ProductCreate,
    response: Response,
    admin: AdminUser,
    pool: PoolDep,
    settings: SettingsDep,
) -> ProductPublic:
    """Admins only. 201 with the product's address in ``Location``. A SKU that is or was in the
    catalog is 409: SKUs are never reused."""
    product = await products.create_product(pool, body, settings)
    response.headers["Location"] = f"/products/{product.sku}"
    return product


@router.patch(
    "/products/{sku}",
    summary="Change a product (admin); a price change applies to orders placed after it",
    responses=problems(*ADMIN_ERRORS, 413),
)
async def update_product(
    sku: SkuPath, body: ProductUpdate, admin: AdminUser, pool: PoolDep, outbox: OutboxDep
) -> ProductPublic:
    """A price change is published as ProductPriceChanged on ``catalog.events``, committed
    with the new price (through the outbox: the two never disagree)."""
    return await products.update_product(pool, outbox, sku, body)


@router.delete(
    "/products/{sku}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Withdraw a product from sale (admin); its SKU is never reused",
    responses=problems(*ADMIN_ERRORS),
)
async def withdraw_product(sku: SkuPath, admin: AdminUser, pool: PoolDep) -> None:
    """Admins only. The product is no longer listed nor sold; orders placed before keep it as it
    was."""
    await products.withdraw_product(pool, sku)


@router.post(
    "/products/{sku}/images",
    status_code=status.HTTP_201_CREATED,
    summary="Upload an image (admin): PNG, JPEG or WebP, at most 5 MiB",
    responses={201: {"headers": LOCATION}, **problems(*ADMIN_ERRORS, 413, 415)},
)
async def add_product_image(
    sku: SkuPath,
    file: Annotated[UploadFile, File(description="The image")],
    response: Response,
    admin: AdminUser,
    pool: PoolDep,
    s3: S3Dep,
    settings: SettingsDep,
) -> ImagePublic:
    """Admins only. ``multipart/form-data`` with the file in ``file``; its bytes decide its type
    (415 unless PNG, JPEG or WebP). ``Location`` is the image's public URL."""
    data = await file.read(MAX_IMAGE_BYTES + 1)
    if len(data) > MAX_IMAGE_BYTES:
        raise ApiError(
            ProblemType.BODY_TOO_LARGE, f"An image may have at most {MAX_IMAGE_BYTES} bytes."
        )
    if not data:
        raise ApiError(ProblemType.EMPTY_FILE, "The file is empty.")
    image = await products.add_image(pool, s3, settings, sku, data)
    response.headers["Location"] = image.url
    return image


@router.delete(
    "/products/{sku}/images/{image_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Remove an image (admin)",
    responses=problems(*ADMIN_ERRORS),
)
async def delete_product_image(
    sku: SkuPath,
    image_id: Annotated[str, Path(pattern=r"^img_[0-9a-f]{32}$")],
    admin: AdminUser,
    pool: PoolDep,
    s3: S3Dep,
    settings: SettingsDep,
) -> None:
    """Admins only. The image leaves the product and its storage."""
    await products.delete_image(pool, s3, settings, sku, image_id)


@router.post(
    "/products/{sku}/stock",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Adjust stock (admin): sent to the inventory, which applies it",
    responses=problems(*ADMIN_ERRORS, 413, 503),
)
async def adjust_stock(
    sku: SkuPath,
    body: StockAdjustment,
    admin: AdminUser,
    pool: PoolDep,
    publisher: PublisherDep,
) -> StockAdjustmentAccepted:
    """Admins only. The adjustment (a change by ``delta`` or a new level ``set_to``) goes to the
    inventory as an event: 202 once the event stream has it, 503 when it could not be confirmed
    (send it again). The product's stock shows it shortly."""
    await products.adjust_stock(pool, publisher, sku, body)
    return StockAdjustmentAccepted(
        sku=sku, detail="The adjustment is with the inventory; the stock shows it shortly."
    )
