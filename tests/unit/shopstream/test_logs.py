"""One JSON line per log call, carrying the context of the record being handled."""

from __future__ import annotations

import asyncio
import json

import pytest

from shopstream.logs import configure_logging, get_logger, record_context


def _lines(err: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in err.splitlines() if line.startswith("{")]


def test_a_line_logged_while_a_record_is_handled_carries_its_context(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("test")
    log = get_logger("shop")
    with record_context(order_id="ord-1", trace_id="t" * 32):
        log.warning("inside", order_id="ord-2")
    log.warning("outside")

    inside, outside = _lines(capsys.readouterr().err)
    # The call's own fields win over the record's.
    assert (inside["order_id"], inside["trace_id"], inside["component"]) == (
        "ord-2",
        "t" * 32,
        "test",
    )
    assert "trace_id" not in outside and "order_id" not in outside


async def test_records_handled_at_once_keep_their_own_context(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("test")
    log = get_logger("shop")

    async def handle(order_id: str) -> None:
        with record_context(order_id=order_id):
            await asyncio.sleep(0)  # the other record is handled meanwhile
            log.warning("handled")

    await asyncio.gather(handle("ord-a"), handle("ord-b"))

    assert sorted(str(line["order_id"]) for line in _lines(capsys.readouterr().err)) == [
        "ord-a",
        "ord-b",
    ]
