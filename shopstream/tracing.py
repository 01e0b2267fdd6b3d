"""Tracing with OpenTelemetry: spans exported over OTLP/HTTP, off unless ``otlp_endpoint`` is set.

A trace is an event's. Every span a process makes about an event (the request that placed an
order, an agent's handling of a record, a message sent on to SNS or the carrier) has the
event's ``trace_id`` as its trace id, so the logs, the events and the spans name one trace.

Each hop carries the W3C ``traceparent`` of the span that sent it (a Kafka header, an SNS/SQS
message attribute, an AMQP header), and the next hop's span is that span's child. Where a hop
has none (a row of a table's changelog, a timer's hint, a record sent before tracing was on),
its span starts the event's trace afresh: a root span whose trace id is the event's
(``_EventTraceIds``). Nothing else starts a trace: a span begun outside every event's trace (a
query on a timer's tick, a readiness probe) is dropped by the sampler, so no trace exists that
no event or request names.

Off, nothing here is built: ``on()`` is False, ``span`` hands out a shared no-op, and the
callers add no header; what is left on the hot path is that one check.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from contextvars import ContextVar
from typing import Final

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.id_generator import RandomIdGenerator
from opentelemetry.sdk.trace.sampling import (
    Decision,
    ParentBased,
    Sampler,
    SamplingResult,
    TraceIdRatioBased,
)
from opentelemetry.trace import (
    NonRecordingSpan,
    Span,
    SpanContext,
    SpanKind,
    Status,
    StatusCode,
    TraceFlags,
)
from opentelemetry.util.types import Attributes, AttributeValue

from shopstream.settings import Settings

__all__ = [
    "NO_SPAN",
    "TRACEPARENT",
    "Span",
    "SpanContext",
    "SpanKind",
    "configure_tracing",
    "current_trace_id",
    "failed",
    "install",
    "on",
    "parse_traceparent",
    "span",
    "start_span",
    "traceparent",
    "traceparent_in",
    "tracer_provider",
]

TRACEPARENT: Final = "traceparent"
SERVICE_NAMESPACE: Final = "shopstream"
_TRACEPARENT: Final = re.compile(r"^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")
_TRACE_ID: Final = re.compile(r"^[0-9a-f]{32}$")

# The trace id of the root span being started, while ``_root`` starts it.
_ROOT: ContextVar[int | None] = ContextVar("shopstream_trace_root", default=None)
_tracer: trace.Tracer | None = None
NO_SPAN: Final[AbstractContextManager[None]] = nullcontext()


class _EventTraceIds(RandomIdGenerator):
    """A root span's trace id is the event's, named by ``_root``; span ids stay random."""

    def generate_trace_id(self) -> int:
        chosen = _ROOT.get()
        return super().generate_trace_id() if chosen is None else chosen


class _EventRoots(Sampler):
    """Roots are kept only where this module starts one for an event's trace, and then by
    ratio on the trace id: every process decides the same for one trace."""

    def __init__(self, ratio: float) -> None:
        self._ratio = TraceIdRatioBased(ratio)

    def should_sample(
        self,
        parent_context: Context | None,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Attributes = None,
        links: Sequence[trace.Link] | None = None,
        trace_state: trace.TraceState | None = None,
    ) -> SamplingResult:
        if _ROOT.get() != trace_id:
            return SamplingResult(Decision.DROP)
        return self._ratio.should_sample(
            parent_context, trace_id, name, kind, attributes, links, trace_state
        )

    def get_description(self) -> str:
        return f"EventRoots{{{self._ratio.get_description()}}}"


def tracer_provider(
    service: str, settings: Settings, processor: SpanProcessor | None = None
) -> TracerProvider:
    """The provider of ``service``'s spans (``processor``: where finished spans go; the OTLP
    exporter in batches if none is given)."""
    provider = TracerProvider(
        resource=Resource.create(
            {
                "service.name": f"{SERVICE_NAMESPACE}-{service}",
                "service.namespace": SERVICE_NAMESPACE,
                "deployment.environment.name": settings.environment or "unknown",
            }
        ),
        sampler=ParentBased(root=_EventRoots(settings.tracing_sample_ratio)),
        id_generator=_EventTraceIds(),
    )
    if processor is None:
        # Imported here: a process that traces nothing never loads the exporter (nor requests).
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        if settings.otlp_endpoint is None:
            raise ValueError("spans are exported only where otlp_endpoint is set")
        exporter = OTLPSpanExporter(endpoint=settings.otlp_endpoint.rstrip("/") + "/v1/traces")
        processor = BatchSpanProcessor(
            exporter, schedule_delay_millis=settings.otlp_export_delay_s * 1000
        )
    provider.add_span_processor(processor)
    return provider


def configure_tracing(service: str, settings: Settings) -> None:
    """Trace this process as ``service`` if ``otlp_endpoint`` is set; otherwise do nothing.
    Its PostgreSQL queries are traced too (asyncpg's instrumentation), inside a trace only."""
    if settings.otlp_endpoint is None:
        return
    provider = tracer_provider(service, settings)
    trace.set_tracer_provider(provider)
    install(provider)
    from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor

    AsyncPGInstrumentor().instrument(tracer_provider=provider)  # type: ignore[no-untyped-call]


def install(provider: TracerProvider | None) -> None:
    """Make spans with ``provider`` from now on (None: trace nothing). The entry points go
    through ``configure_tracing``; tests install a provider with an in-memory exporter."""
    global _tracer
    _tracer = None if provider is None else provider.get_tracer("shopstream")


def on() -> bool:
    return _tracer is not None


def parse_traceparent(value: str | bytes | None) -> SpanContext | None:
    """The span a W3C ``traceparent`` names, or None if it names none (absent, malformed, an
    unknown version's, or all-zero ids)."""
    if value is None:
        return None
    text = value.decode("latin-1") if isinstance(value, bytes) else value
    match = _TRACEPARENT.match(text.strip())
    if match is None or match.group(1) == "ff":
        return None
    context = SpanContext(
        trace_id=int(match.group(2), 16),
        span_id=int(match.group(3), 16),
        is_remote=True,
        trace_flags=TraceFlags(int(match.group(4), 16) & TraceFlags.SAMPLED),
    )
    return context if context.is_valid else None


def traceparent(context: SpanContext) -> str:
    """The W3C ``traceparent`` naming the span of ``context``."""
    return f"00-{context.trace_id:032x}-{context.span_id:016x}-{context.trace_flags:02x}"


def traceparent_in(
    headers: Sequence[tuple[str, bytes]] | Mapping[str, bytes] | None,
) -> bytes | None:
    """The ``traceparent`` among a Kafka record's headers (a list of pairs, or a mapping)."""
    if not headers:
        return None
    if isinstance(headers, Mapping):
        return headers.get(TRACEPARENT)
    for name, value in headers:
        if name == TRACEPARENT:
            return value
    return None


def current_trace_id() -> str | None:
    """The trace id of the span in progress, if a span is (32 hex digits)."""
    context = trace.get_current_span().get_span_context()
    return f"{context.trace_id:032x}" if context.is_valid else None


def span(
    name: str,
    trace_id: str,
    *,
    kind: SpanKind = SpanKind.INTERNAL,
    parent: SpanContext | None = None,
    traceparent: str | bytes | None = None,
    attributes: Mapping[str, AttributeValue] | None = None,
) -> AbstractContextManager[Span | None]:
    """A span in the trace ``trace_id`` (an event's), current while the block runs; None
    while tracing is off. Its parent: ``parent``, or the span ``traceparent`` names, if that
    is of this trace; else the current span, if of this trace; else none (a root)."""
    if _tracer is None:
        return NO_SPAN
    return _current(_tracer, name, trace_id, kind, parent, traceparent, attributes)


@contextmanager
def _current(
    tracer: trace.Tracer,
    name: str,
    trace_id: str,
    kind: SpanKind,
    parent: SpanContext | None,
    traceparent: str | bytes | None,
    attributes: Mapping[str, AttributeValue] | None,
) -> Iterator[Span]:
    started = _start(tracer, name, trace_id, kind, parent, traceparent, attributes)
    with trace.use_span(started, end_on_exit=True):
        yield started


def start_span(
    name: str,
    trace_id: str,
    *,
    kind: SpanKind = SpanKind.INTERNAL,
    parent: SpanContext | None = None,
    attributes: Mapping[str, AttributeValue] | None = None,
) -> Span | None:
    """Like ``span``, but not made current, and the caller ends it (at an acknowledgement,
    say); None while tracing is off."""
    if _tracer is None:
        return None
    return _start(_tracer, name, trace_id, kind, parent, None, attributes)


def failed(span: Span | None, reason: str) -> None:
    """Mark the span as failed, with why (a refused record, a failed send)."""
    if span is not None:
        span.set_status(Status(StatusCode.ERROR, reason))


def _start(
    tracer: trace.Tracer,
    name: str,
    trace_id: str,
    kind: SpanKind,
    parent: SpanContext | None,
    given: str | bytes | None,
    attributes: Mapping[str, AttributeValue] | None,
) -> Span:
    wanted = int(trace_id, 16) if _TRACE_ID.match(trace_id) else None
    if given is not None:
        parent = parse_traceparent(given) or parent
    if parent is None or not parent.is_valid or parent.trace_id != wanted:
        current = trace.get_current_span().get_span_context()
        parent = current if current.is_valid and current.trace_id == wanted else None
    if parent is not None:
        context = trace.set_span_in_context(NonRecordingSpan(parent))
        return tracer.start_span(name, context, kind, attributes)
    # A root of the event's trace: its trace id is the event's (a fresh one if the event's
    # is not a trace id at all).
    root = wanted or RandomIdGenerator().generate_trace_id()
    token = _ROOT.set(root)
    try:
        return tracer.start_span(name, Context(), kind, attributes)
    finally:
        _ROOT.reset(token)
