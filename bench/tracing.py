"""What tracing adds to an agent's handling of one record, off and on.

    .venv/bin/python -m bench.tracing [--records 20000] [--rounds 5]

Per record, an agent (``streams.agents.processing``) enters the record's span context and sends
each output through ``streams.kafka_tracing.sent``; this times exactly that, in this process,
with a producer that is a resolved future (no Kafka), so the figures are tracing's own cost:
- off: no provider, as a process without ``otlp_endpoint`` runs;
- on: a provider whose batch processor hands spans to an exporter that drops them (the
  export's own cost is on the SDK's thread, and depends on the collector).
Beside them, the contract's decode of the same record: what every record costs anyway.
The best of ``--rounds`` rounds is reported, per record, in microseconds. Machines here are
noisy: compare figures from one run.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

from shopstream import tracing
from shopstream.settings import Settings
from streams import kafka_tracing
from streams.contract import ReserveStock, StockReserved, decode, encode

TOPIC = "inventory.commands"
HEADERS = [("traceparent", b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")]


class _Dropped(SpanExporter):
    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


async def _handle(records: int) -> float:
    """Seconds for ``records`` records: each one's span context, and one output sent."""
    loop = asyncio.get_running_loop()
    command = ReserveStock(
        order_id="ord-1",
        sku="MUG-01",
        quantity=1,
        expires_at=datetime.now(UTC) + timedelta(minutes=15),
        trace_id="4bf92f3577b34da6a3ce929d0e0e4736",
    )
    answer = StockReserved(
        order_id="ord-1",
        sku="MUG-01",
        quantity=1,
        expires_at=command.expires_at,
        trace_id=command.trace_id,
    )

    async def produce(headers: list[tuple[str, bytes]]) -> asyncio.Future[Any]:
        done = loop.create_future()
        done.set_result(None)
        return done

    started = time.perf_counter()
    for _ in range(records):
        with kafka_tracing.processing("inventory", TOPIC, HEADERS, command) as span:
            parent = None if span is None else span.get_span_context()
        if tracing.on():
            await kafka_tracing.sent(answer, "inventory.events", parent, produce)
        else:
            await produce([])
    elapsed = time.perf_counter() - started
    await asyncio.sleep(0)  # the acknowledgements' callbacks end the send spans
    return elapsed


def _decode(records: int) -> float:
    expires = datetime.now(UTC) + timedelta(minutes=15)
    raw = encode(StockReserved(order_id="ord-1", sku="MUG-01", quantity=1, expires_at=expires))
    started = time.perf_counter()
    for _ in range(records):
        decode(raw)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.tracing")
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    records: int = args.records
    rounds: int = args.rounds

    def best(measure: Callable[[], float]) -> float:
        return min(measure() for _ in range(rounds)) / records * 1e6

    tracing.install(None)
    off = best(lambda: asyncio.run(_handle(records)))
    baseline = best(lambda: asyncio.run(_handle_nothing(records)))
    provider = tracing.tracer_provider("bench", Settings(), BatchSpanProcessor(_Dropped()))
    tracing.install(provider)
    try:
        on = best(lambda: asyncio.run(_handle(records)))
    finally:
        tracing.install(None)
        provider.shutdown()
    decoding = best(lambda: _decode(records))
    print(f"per record, best of {rounds} rounds of {records}:")
    print(f"  the loop alone (a resolved send) {baseline:8.2f} us")
    print(f"  tracing off                      {off:8.2f} us  (+{off - baseline:.2f} us)")
    print(f"  tracing on                       {on:8.2f} us  (+{on - baseline:.2f} us)")
    print(f"  the contract's decode, for scale {decoding:8.2f} us")


async def _handle_nothing(records: int) -> float:
    """The same loop without tracing's calls: what ``_handle`` is measured against."""
    loop = asyncio.get_running_loop()

    async def produce(headers: list[tuple[str, bytes]]) -> asyncio.Future[Any]:
        done = loop.create_future()
        done.set_result(None)
        return done

    started = time.perf_counter()
    for _ in range(records):
        await produce([])
    return time.perf_counter() - started


if __name__ == "__main__":
    main()
