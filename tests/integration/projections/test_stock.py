from __future__ import annotations

from typing import Any

from streams.domain.inventory import Stock
from streams.projections.stock import get_stock_levels, project_stock, project_stocks


def stock(sku: str, revision: int, on_hand: int, reserved: int = 0) -> Stock:
    held = {"ord-1": reserved} if reserved else {}
    return Stock(sku=sku, on_hand=on_hand, reservations=held, revision=revision)


async def test_an_older_snapshot_after_a_newer_one_changes_nothing(pool: Any, unique: str) -> None:
    sku = f"sku-{unique}"
    assert await project_stock(pool, stock(sku, 2, on_hand=5, reserved=2)) is True
    assert await project_stock(pool, stock(sku, 1, on_hand=5)) is False

    level = (await get_stock_levels(pool, [sku]))[sku]
    assert (level.on_hand, level.reserved, level.available) == (5, 2, 3)


async def test_a_batch_of_snapshots_ends_at_each_skus_newest(pool: Any, unique: str) -> None:
    mug, tee = f"mug-{unique}", f"tee-{unique}"
    batch = [
        stock(mug, 1, on_hand=10),
        stock(tee, 1, on_hand=3),
        stock(mug, 3, on_hand=10, reserved=4),
        stock(mug, 2, on_hand=10, reserved=1),  # late and older: ignored
        stock(tee, 2, on_hand=3, reserved=3),
        stock(tee, 2, on_hand=3, reserved=3),  # the same one again
    ]

    await project_stocks(pool, batch)

    levels = await get_stock_levels(pool, [mug, tee])
    assert (levels[mug].reserved, levels[mug].available) == (4, 6)
    assert (levels[tee].reserved, levels[tee].available) == (3, 0)
