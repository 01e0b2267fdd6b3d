"""The demo shop a first ``make run`` opens with: a small catalog in stock, a customer and an
admin (``api/demo.toml``).

Loaded through the code the REST API runs, never by writing tables behind it: products and
their prices through the products module, their pictures into the images bucket as an upload
puts them, their stock as ``AdjustStock`` commands to the inventory agent (the one writer of a
SKU's stock, whose read model then shows it), the accounts through the users module. Whatever
exists already is left as it is, so a second load changes nothing: a product the admin changed,
withdrew or sold out keeps that, and an account keeps its password.

Local only: the accounts' passwords are in the data file for anyone to read.
"""

from __future__ import annotations

import asyncio
import math
import struct
import time
import tomllib
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Final

import asyncpg
from pydantic import Field

from api.problem_types import ProblemType
from api.problems import ApiError
from api.resources import ensure_bucket
from api.schema import migrate
from api.schemas.common import RequestModel
from api.schemas.products import ProductCreate, StockAdjustment
from api.schemas.users import UserCreate
from api.security import PasswordHasher, Role
from api.services import products, users
from shopstream.aws import aws_client
from shopstream.settings import Settings
from streams.projections.stock import get_stock_levels
from streams.publisher import EventPublisher

DEMO_FILE: Final = Path(__file__).with_name("demo.toml")
_PICTURE_SIZE: Final = (320, 240)


class DemoProduct(ProductCreate):
    """A product as the admin API creates it, with its first stocktake and its colour."""

    stock: Annotated[int, Field(ge=0, le=1_000_000)]
    colour: Annotated[str, Field(pattern=r"^#[0-9a-fA-F]{6}$")]

    def body(self) -> ProductCreate:
        return ProductCreate.model_validate(
            self.model_dump(include=set(ProductCreate.model_fields))
        )

    def picture(self) -> bytes:
        return picture(self.colour, *_PICTURE_SIZE)


class Demo(RequestModel):
    """The accounts validated as registration validates them, the products as the admin API."""

    customer: UserCreate
    admin: UserCreate
    products: Annotated[list[DemoProduct], Field(min_length=1)]

    @classmethod
    def from_file(cls, path: Path = DEMO_FILE) -> Demo:
        with path.open("rb") as file:
            return cls.model_validate(tomllib.load(file))


@dataclass(frozen=True, slots=True)
class Loaded:
    demo: Demo
    products_created: int
    accounts_created: int
    # SKUs whose stocktake the inventory's read model did not show within the wait.
    stock_pending: tuple[str, ...]


async def load_demo(
    settings: Settings, demo: Demo | None = None, *, stock_wait_s: float = 30.0
) -> Loaded:
    """Load ``demo`` (the data file's by default) unless it is there; return what it did.

    Waits up to ``stock_wait_s`` for the stock to show in the catalog, so that the shop a
    caller then opens shows it too.
    """
    if settings.is_deployed:
        raise RuntimeError(
            f"the demo shop is not loaded in environment {settings.environment!r}: its "
            "accounts' passwords are public"
        )
    demo = demo if demo is not None else Demo.from_file()
    pool = await asyncpg.create_pool(settings.database_url.get_secret_value(), min_size=1)
    try:
        await migrate(pool)
        hasher = PasswordHasher(settings)
        accounts = [
            await _account(pool, hasher, demo.customer, "customer"),
            await _account(pool, hasher, demo.admin, "admin"),
        ]
        async with EventPublisher(settings) as publisher, aws_client(settings, "s3") as s3:
            await ensure_bucket(s3, settings)
            created, counting = 0, []
            for product in demo.products:
                made, counted = await _product(pool, publisher, s3, settings, product)
                created += made
                if not counted:
                    counting.append(product.sku)
        pending = await _until_counted(pool, counting, stock_wait_s)
    finally:
        await pool.close()
    return Loaded(demo, created, sum(accounts), pending)


async def _account(
    pool: asyncpg.Pool, hasher: PasswordHasher, person: UserCreate, role: Role
) -> bool:
    # None for an email that has an account: that account is left as it is.
    made = await users.register(pool, hasher, person.email, person.password, person.name, role)
    return made is not None


async def _product(
    pool: asyncpg.Pool, publisher: EventPublisher, s3: Any, settings: Settings, product: DemoProduct
) -> tuple[bool, bool]:
    """Create what the product lacks; returns whether it was created, and whether its stock
    was counted before (False: a stocktake was sent now)."""
    try:
        current = await products.get_product(pool, product.sku)
        created = False
    except ApiError as missing:
        if missing.kind is not ProblemType.PRODUCT_NOT_FOUND:
            raise
        try:
            current = await products.create_product(pool, product.body(), settings)
            created = True
        except ApiError as taken:
            if taken.kind is not ProblemType.SKU_TAKEN:
                raise
            return False, True  # withdrawn by the admin: a withdrawn SKU stays withdrawn
    # Each part on its own, so that a load stopped half-way is completed by the next one.
    if not current.images:
        await products.add_image(pool, s3, settings, product.sku, product.picture())
    if product.sku in await get_stock_levels(pool, [product.sku]):
        return created, True  # counted: whatever it is now (sold, restocked) is the truth
    await products.adjust_stock(pool, publisher, product.sku, StockAdjustment(set_to=product.stock))
    return created, False


async def _until_counted(pool: asyncpg.Pool, skus: list[str], wait_s: float) -> tuple[str, ...]:
    """The SKUs still missing from the inventory's read model after ``wait_s``."""
    deadline = time.monotonic() + wait_s
    missing = set(skus)
    while missing:
        missing -= set(await get_stock_levels(pool, missing))
        if not missing or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.2)
    return tuple(sku for sku in skus if sku in missing)


def picture(colour: str, width: int, height: int) -> bytes:
    """A PNG: a disc in ``colour`` on a pale ground of its hue, with a shadow under it.

    Drawn here rather than committed as binaries; a row is runs of colour, so it is small."""
    main = bytes.fromhex(colour.removeprefix("#"))
    ground = bytes(round(c + (255 - c) * 0.85) for c in main)
    shadow = bytes(round(c * 0.82) for c in ground)
    centre_x, centre_y, radius = width / 2, height * 0.45, height * 0.3
    shadow_y, shadow_rx, shadow_ry = centre_y + radius * 1.08, radius * 1.05, radius * 0.16
    raw = bytearray()
    for y in range(height):
        row = bytearray(ground * width)
        for cy, rx, ry, paint in (
            (shadow_y, shadow_rx, shadow_ry, shadow),
            (centre_y, radius, radius, main),
        ):
            dy = (y + 0.5 - cy) / ry
            if abs(dy) < 1:
                half = rx * math.sqrt(1 - dy * dy)
                start, end = round(centre_x - half), round(centre_x + half)
                row[start * 3 : end * 3] = paint * (end - start)
        raw += b"\x00" + row  # each row's filter byte: none
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(bytes(raw), 9))
        + _chunk(b"IEND", b"")
    )


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
