"""How an agent applies records, as traced: each record's handling continues its trace, and its
outputs are sent as that handling's children, in the event's trace."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from shopstream import tracing
from streams.agents.inventory import inventory_agent
from streams.contract import OrderCancelled, ReserveStock, encode
from streams.topics import INVENTORY_EVENTS
from tests.unit.streams.agents.conftest import Sent

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
UPSTREAM = "00f067aa0ba902b7"


def reserve(trace_id: str) -> ReserveStock:
    return ReserveStock(
        order_id="ord-1",
        sku="MUG-01",
        quantity=1,
        expires_at=datetime.now(UTC) + timedelta(minutes=15),
        trace_id=trace_id,
    )


async def test_a_records_outputs_are_sent_under_its_handling_in_its_trace(
    sent: Sent, spans: InMemorySpanExporter
) -> None:
    header = ("traceparent", f"00-{TRACE}-{UPSTREAM}-01".encode())
    async with inventory_agent.test_context() as agent:
        await agent.put(encode(reserve(TRACE)), key=b"MUG-01", headers=[header])

    [answer] = sent.records(INVENTORY_EVENTS)
    by_kind = {span.kind: span for span in spans.get_finished_spans()}
    process, send = by_kind[SpanKind.CONSUMER], by_kind[SpanKind.PRODUCER]
    assert process.name == "inventory process ReserveStock"
    assert process.parent is not None and f"{process.parent.span_id:016x}" == UPSTREAM
    assert send.parent is not None and process.context is not None
    assert send.parent.span_id == process.context.span_id
    assert {f"{span.context.trace_id:032x}" for span in (process, send) if span.context} == {TRACE}
    assert send.context is not None
    assert dict(answer.headers or {})["traceparent"] == tracing.traceparent(send.context).encode()


async def test_a_record_without_a_header_starts_its_events_trace(
    sent: Sent, spans: InMemorySpanExporter
) -> None:
    async with inventory_agent.test_context() as agent:
        await agent.put(encode(reserve(TRACE)), key=b"MUG-01")

    process = next(span for span in spans.get_finished_spans() if span.kind is SpanKind.CONSUMER)
    assert process.parent is None
    assert process.context is not None and f"{process.context.trace_id:032x}" == TRACE


async def test_a_refused_record_is_a_failed_span_with_the_reason(
    sent: Sent, spans: InMemorySpanExporter
) -> None:
    async with inventory_agent.test_context() as agent:
        await agent.put(encode(OrderCancelled(order_id="ord-1", reason="no")), key=b"ord-1")

    [process] = spans.get_finished_spans()
    assert process.status.status_code is StatusCode.ERROR
    assert process.status.description == "the inventory agent does not consume OrderCancelled"


async def test_untraced_records_go_out_without_a_traceparent(sent: Sent) -> None:
    async with inventory_agent.test_context() as agent:
        await agent.put(encode(reserve(TRACE)), key=b"MUG-01")

    [answer] = sent.records(INVENTORY_EVENTS)
    assert "traceparent" not in dict(answer.headers or {})
