"""Tracing's rules: a span's trace is its event's, whatever it continues from."""

from __future__ import annotations

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, get_tracer
from pydantic import ValidationError

from shopstream import tracing
from shopstream.settings import Settings

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
OTHER_TRACE = "0af7651916cd43dd8448eb211c80319c"
SPAN = "00f067aa0ba902b7"


def test_tracing_is_off_unless_an_endpoint_is_set() -> None:
    tracing.configure_tracing("test", Settings())
    assert not tracing.on()
    with tracing.span("anything", TRACE) as span:
        assert span is None
    assert tracing.start_span("anything", TRACE) is None


def test_an_endpoint_must_be_an_http_url() -> None:
    with pytest.raises(ValidationError, match="http:// or https://"):
        Settings(otlp_endpoint="127.0.0.1:4318")
    assert Settings(otlp_endpoint="http://127.0.0.1:4318").otlp_endpoint is not None


def test_a_span_with_nothing_to_continue_starts_the_events_trace(
    spans: InMemorySpanExporter,
) -> None:
    with tracing.span("apply", TRACE) as span:
        assert span is not None
    [finished] = spans.get_finished_spans()
    assert finished.context is not None
    assert f"{finished.context.trace_id:032x}" == TRACE
    assert finished.parent is None


def test_a_span_continues_the_traceparent_it_is_given(spans: InMemorySpanExporter) -> None:
    with tracing.span("apply", TRACE, traceparent=f"00-{TRACE}-{SPAN}-01".encode()):
        pass
    [finished] = spans.get_finished_spans()
    assert finished.parent is not None and finished.parent.is_remote
    assert f"{finished.parent.span_id:016x}" == SPAN
    assert f"{finished.context.trace_id:032x}" == TRACE


def test_a_traceparent_of_another_trace_is_not_continued(spans: InMemorySpanExporter) -> None:
    with tracing.span("apply", TRACE, traceparent=f"00-{OTHER_TRACE}-{SPAN}-01"):
        pass
    [finished] = spans.get_finished_spans()
    assert finished.parent is None
    assert f"{finished.context.trace_id:032x}" == TRACE


def test_a_span_is_the_child_of_the_current_span_of_its_trace_only(
    spans: InMemorySpanExporter,
) -> None:
    with tracing.span("request", TRACE) as outer:
        assert outer is not None
        with tracing.span("send", TRACE):
            pass
        with tracing.span("send another order's event", OTHER_TRACE):
            pass
    child, stranger, _ = spans.get_finished_spans()
    assert child.parent is not None
    assert child.parent.span_id == outer.get_span_context().span_id
    assert stranger.parent is None
    assert f"{stranger.context.trace_id:032x}" == OTHER_TRACE


def test_a_span_outside_every_events_trace_is_dropped(spans: InMemorySpanExporter) -> None:
    # What an instrumentation does (asyncpg's): a span of its own, with no trace around it.
    stray = get_tracer("elsewhere", tracer_provider=_provider(spans)).start_span("SELECT")
    assert not stray.is_recording()
    stray.end()
    assert spans.get_finished_spans() == ()


def test_an_unsampled_traceparent_is_continued_unsampled_and_not_exported(
    spans: InMemorySpanExporter,
) -> None:
    with tracing.span("apply", TRACE, traceparent=f"00-{TRACE}-{SPAN}-00") as span:
        assert span is not None and not span.is_recording()
        assert tracing.traceparent(span.get_span_context()).endswith("-00")
    assert spans.get_finished_spans() == ()


def test_the_sample_ratio_decides_on_the_trace_id_alone() -> None:
    exporter = InMemorySpanExporter()
    settings = Settings(tracing_sample_ratio=0.5)
    kept = []
    for _ in range(2):  # two processes, deciding on the same traces
        provider = tracing.tracer_provider("test", settings, SimpleSpanProcessor(exporter))
        tracing.install(provider)
        try:
            kept.append([_sampled(f"{n:016x}" * 2) for n in range(2**57, 2**64, 2**58)])
        finally:
            tracing.install(None)
    assert kept[0] == kept[1]
    assert 0 < sum(kept[0]) < len(kept[0])


def test_a_traceparent_is_read_only_when_well_formed() -> None:
    assert tracing.parse_traceparent(None) is None
    assert tracing.parse_traceparent("garbage") is None
    assert tracing.parse_traceparent(f"ff-{TRACE}-{SPAN}-01") is None  # a forbidden version
    assert tracing.parse_traceparent(f"00-{'0' * 32}-{SPAN}-01") is None
    assert tracing.parse_traceparent(f"00-{TRACE}-{'0' * 16}-01") is None
    assert tracing.parse_traceparent(f"00-{TRACE.upper()}-{SPAN}-01") is None
    context = tracing.parse_traceparent(f"00-{TRACE}-{SPAN}-01")
    assert context is not None
    assert tracing.traceparent(context) == f"00-{TRACE}-{SPAN}-01"


def test_a_traceparent_is_found_among_kafka_headers_of_either_shape() -> None:
    header = f"00-{TRACE}-{SPAN}-01".encode()
    assert tracing.traceparent_in([("x", b"1"), ("traceparent", header)]) == header
    assert tracing.traceparent_in({"traceparent": header}) == header
    assert tracing.traceparent_in(None) is None
    assert tracing.traceparent_in([("x", b"1")]) is None


def test_the_current_trace_id_is_the_span_in_progress(spans: InMemorySpanExporter) -> None:
    assert tracing.current_trace_id() is None
    with tracing.span("request", TRACE, kind=SpanKind.SERVER):
        assert tracing.current_trace_id() == TRACE


def _provider(spans: InMemorySpanExporter) -> TracerProvider:
    return tracing.tracer_provider("test", Settings(), SimpleSpanProcessor(spans))


def _sampled(trace_id: str) -> bool:
    with tracing.span("apply", trace_id) as span:
        return span is not None and span.is_recording()
