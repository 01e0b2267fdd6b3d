"""Spans caught in memory: a test that asks for ``spans`` runs with tracing on."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from shopstream import tracing
from shopstream.settings import Settings


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    """Tracing on, every trace kept, each finished span in the exporter's memory."""
    exporter = InMemorySpanExporter()
    provider = tracing.tracer_provider("test", Settings(), SimpleSpanProcessor(exporter))
    tracing.install(provider)
    try:
        yield exporter
    finally:
        tracing.install(None)
        provider.shutdown()
