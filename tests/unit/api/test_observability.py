"""The gateway's request spans: one per request, in the trace its events carry."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from api.observability import ObservabilityMiddleware
from api.services.events import request_trace

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CLIENT_SPAN = "00f067aa0ba902b7"


def _client() -> TestClient:
    app = FastAPI()

    @app.get("/orders/{order_id}")
    async def order(order_id: str) -> dict[str, str]:
        return request_trace()  # the trace id the request's events would carry

    @app.get("/broken")
    async def broken() -> None:
        raise RuntimeError("down")

    app.add_middleware(ObservabilityMiddleware)
    return TestClient(app, raise_server_exceptions=False)


def test_a_request_with_a_traceparent_is_a_server_span_continuing_it(
    spans: InMemorySpanExporter,
) -> None:
    response = _client().get(
        "/orders/ord-1", headers={"traceparent": f"00-{TRACE}-{CLIENT_SPAN}-01"}
    )
    assert response.json() == {"trace_id": TRACE}
    [span] = spans.get_finished_spans()
    assert span.kind is SpanKind.SERVER
    assert span.name == "GET /orders/{order_id}"
    assert span.parent is not None and f"{span.parent.span_id:016x}" == CLIENT_SPAN
    assert span.context is not None and f"{span.context.trace_id:032x}" == TRACE
    assert span.attributes is not None and span.attributes["http.response.status_code"] == 200


def test_a_request_without_one_starts_the_trace_it_answers_with(
    spans: InMemorySpanExporter,
) -> None:
    response = _client().get("/orders/ord-1")
    trace_id = response.headers["x-trace-id"]
    assert response.json() == {"trace_id": trace_id}
    [span] = spans.get_finished_spans()
    assert span.parent is None
    assert span.context is not None and f"{span.context.trace_id:032x}" == trace_id


def test_a_trace_id_the_contract_cannot_carry_gives_the_events_the_spans_trace(
    spans: InMemorySpanExporter,
) -> None:
    response = _client().get("/orders/ord-1", headers={"x-trace-id": "checkout-run-42"})
    [span] = spans.get_finished_spans()
    assert span.context is not None
    assert response.json() == {"trace_id": f"{span.context.trace_id:032x}"}


def test_a_request_that_fails_is_a_failed_span(spans: InMemorySpanExporter) -> None:
    assert _client().get("/broken").status_code == 500
    [span] = spans.get_finished_spans()
    assert span.status.status_code is StatusCode.ERROR


def test_untraced_requests_make_no_span() -> None:
    response = _client().get("/orders/ord-1")
    assert response.json() == {"trace_id": response.headers["x-trace-id"]}
