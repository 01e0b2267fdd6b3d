"""``shopstream order trace ORDER_ID``: one order's path through the system, hop by hop.

What it shows is the order's history (``streams.projections.history``), which the projector
records from every order-keyed event: each event in the order it happened, when it was made
(``occurred_at``, the moment the gateway or an agent decided it), the time since the order's
first event and since the event before, and the trace it belongs to. A gap between two events
is one hop: the Kafka transit and the next agent's handling (or the carrier's answer, or a
customer's wait). The trace ids are what to look up in a tracing backend, where the spans
(``docs/tracing.md``) break each hop down by process; the commands to inventory, payments and
shipping, which the history does not record, are among them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from shopstream.settings import Settings
from streams.projections.history import HistoryEntry, order_timeline


async def order_history(settings: Settings, order_id: str) -> list[HistoryEntry]:
    """The order's recorded events, oldest first (empty for an order never recorded)."""
    return await order_timeline(settings, order_id)


def _seconds(later: datetime, earlier: datetime) -> float:
    return (later - earlier).total_seconds()


def _summary(entry: HistoryEntry) -> str:
    return " ".join(f"{name}={value}" for name, value in entry.summary.items())


def render(order_id: str, entries: Sequence[HistoryEntry]) -> list[str]:
    """The lines that show the order's path: a heading, its traces, then one line per event."""
    if not entries:
        return [f"{order_id}: no events recorded (the projector records the order history)"]
    first = entries[0].occurred_at
    traces: dict[str, str] = {}  # trace id -> the event that opened it
    for entry in entries:
        traces.setdefault(entry.trace_id, entry.type)
    took = _seconds(entries[-1].occurred_at, first)
    lines = [
        f"{order_id}: {len(entries)} events in {len(traces)} "
        f"trace{'s' if len(traces) != 1 else ''}, from {first:%Y-%m-%d %H:%M:%S.%f} UTC, "
        f"over {took:.3f} s",
        *(f"  trace {trace_id} (from {opened})" for trace_id, opened in traces.items()),
        f"  {'since first':>11}  {'since prev':>10}  {'trace':8}  event",
    ]
    previous = first
    for entry in entries:
        since_first = _seconds(entry.occurred_at, first)
        gap = _seconds(entry.occurred_at, previous)
        previous = entry.occurred_at
        lines.append(
            f"  {since_first:>9.3f} s  {gap * 1000:>7.1f} ms  {entry.trace_id[:8]}  "
            f"{entry.type} {_summary(entry)}".rstrip()
        )
    return lines
