"""The demo shop's data file and the pictures drawn for it, without the stack."""

from __future__ import annotations

import struct
import zlib

from api.demo import Demo, picture


def test_the_shipped_demo_has_a_catalog_with_stock_and_two_accounts() -> None:
    demo = Demo.from_file()

    assert 8 <= len(demo.products) <= 12
    assert len({product.sku for product in demo.products}) == len(demo.products)
    assert all(product.description and product.price_cents > 0 for product in demo.products)
    assert any(product.stock == 0 for product in demo.products)  # "out of stock" shows too
    assert demo.customer.email != demo.admin.email


def test_a_picture_is_a_small_png_of_the_size_asked_for() -> None:
    png = picture("#3b6e8f", 320, 240)

    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    length, kind = struct.unpack(">I4s", png[8:16])
    width, height = struct.unpack(">II", png[16:24])
    assert (kind, length, width, height) == (b"IHDR", 13, 320, 240)
    assert len(png) < 4096


def test_a_picture_shows_the_colour_on_a_paler_ground() -> None:
    png = picture("#3b6e8f", 40, 30)

    start = png.index(b"IDAT") + 4
    (length,) = struct.unpack(">I", png[start - 8 : start - 4])
    rows = zlib.decompress(png[start : start + length])
    stride = 1 + 40 * 3
    middle = rows[15 * stride + 1 :][: 40 * 3]
    corner = rows[1:4]
    assert middle[20 * 3 : 21 * 3] == bytes.fromhex("3b6e8f")
    assert all(
        ground > colour for ground, colour in zip(corner, bytes.fromhex("3b6e8f"), strict=True)
    )
