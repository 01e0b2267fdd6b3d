"""Kafka's hops of a trace: a send's span, named by the record's traceparent header."""

from __future__ import annotations

import asyncio

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from shopstream import tracing
from streams import kafka_tracing
from streams.contract import AdjustStock

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"


async def test_a_record_sent_names_its_send_span_which_ends_at_the_acknowledgement(
    spans: InMemorySpanExporter,
) -> None:
    event = AdjustStock(sku="MUG-01", set_to=3, trace_id=TRACE)
    acknowledgement: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    given: list[list[tuple[str, bytes]]] = []

    async def produce(headers: list[tuple[str, bytes]]) -> asyncio.Future[str]:
        given.append(headers)
        return acknowledgement

    delivery = await kafka_tracing.sent(event, "inventory.adjustments", None, produce)
    assert spans.get_finished_spans() == ()  # not acknowledged yet
    acknowledgement.set_result("ok")
    assert await delivery == "ok"
    await asyncio.sleep(0)  # the future's callbacks run
    [send] = spans.get_finished_spans()
    assert send.kind is SpanKind.PRODUCER
    assert send.name == "send inventory.adjustments"
    assert send.context is not None and f"{send.context.trace_id:032x}" == TRACE
    [[(name, value)]] = given
    assert name == "traceparent"
    assert value.decode() == tracing.traceparent(send.context)


async def test_a_send_kafka_refuses_is_a_failed_span(spans: InMemorySpanExporter) -> None:
    event = AdjustStock(sku="MUG-01", set_to=3, trace_id=TRACE)

    async def produce(headers: list[tuple[str, bytes]]) -> asyncio.Future[str]:
        raise ConnectionError("broker away")

    with pytest.raises(ConnectionError):
        await kafka_tracing.sent(event, "inventory.adjustments", None, produce)
    [send] = spans.get_finished_spans()
    assert send.status.status_code is StatusCode.ERROR


async def test_with_tracing_off_a_record_is_sent_with_no_header() -> None:
    event = AdjustStock(sku="MUG-01", set_to=3)
    given: list[list[tuple[str, bytes]]] = []

    sent: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    async def produce(headers: list[tuple[str, bytes]]) -> asyncio.Future[str]:
        given.append(headers)
        return sent

    assert await kafka_tracing.sent(event, "inventory.adjustments", None, produce) is sent
    assert given == [[]]
    with kafka_tracing.processing("inventory", "t", None, event) as span:
        assert span is None


def test_processing_continues_the_send_its_header_names(spans: InMemorySpanExporter) -> None:
    event = AdjustStock(sku="MUG-01", set_to=3, trace_id=TRACE)
    header = f"00-{TRACE}-00f067aa0ba902b7-01".encode()
    with kafka_tracing.processing(
        "inventory", "inventory.commands", [("traceparent", header)], event
    ):
        pass
    [process] = spans.get_finished_spans()
    assert process.kind is SpanKind.CONSUMER
    assert process.name == "inventory process AdjustStock"
    assert process.parent is not None and process.parent.span_id == 0x00F067AA0BA902B7
    assert process.attributes is not None
    assert process.attributes["messaging.destination.name"] == "inventory.commands"
