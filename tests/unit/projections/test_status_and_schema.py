from __future__ import annotations

from streams.projections.schema import MIGRATIONS


def test_migrations_are_numbered_from_one_without_gaps_or_repeats() -> None:
    assert [m.version for m in MIGRATIONS] == list(range(1, len(MIGRATIONS) + 1))
