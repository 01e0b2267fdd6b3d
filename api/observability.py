"""Per-request trace id, JSON access log and Prometheus metrics, as one ASGI middleware."""

from __future__ import annotations

import re
import time
import uuid

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shopstream import tracing
from shopstream.logs import get_logger
from shopstream.metrics import HTTP_LATENCY, HTTP_REQUESTS
from shopstream.tracing import SpanKind

TRACE_HEADER = "x-trace-id"
# W3C traceparent: version-traceid-parentid-flags; the 32-hex trace id is what we carry.
_TRACEPARENT = re.compile(r"^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$")
_TRACE_ID = re.compile(r"^[0-9A-Za-z-]{8,64}$")
log = get_logger("api.access")
# What a route may add to its request's access log line (``annotate``), cleared after it.
_ANNOTATIONS = ("order_id", "replayed")


def annotate(*, order_id: str, replayed: bool) -> None:
    """Name the order in this request's access log line: one line per request, not two."""
    structlog.contextvars.bind_contextvars(order_id=order_id, replayed=replayed)


def trace_id_from(headers: dict[bytes, bytes]) -> str:
    if match := _TRACEPARENT.match(headers.get(b"traceparent", b"").decode("latin-1")):
        return match.group(1)
    given = headers.get(TRACE_HEADER.encode(), b"").decode("latin-1")
    return given if _TRACE_ID.match(given) else uuid.uuid4().hex


class ObservabilityMiddleware:
    """Traced (``shopstream.tracing``), each request is a server span in the trace its id
    names: the child of the client's ``traceparent`` if it sent one, else a root of that
    trace. The events it publishes carry the same trace id."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        trace_id = trace_id_from(headers)
        structlog.contextvars.bind_contextvars(trace_id=trace_id)
        status = 500
        started = time.perf_counter()

        async def send_with_trace(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"].append((TRACE_HEADER.encode(), trace_id.encode()))
            await send(message)

        method = scope["method"]
        with tracing.span(
            method,
            trace_id,
            kind=SpanKind.SERVER,
            traceparent=headers.get(b"traceparent"),
            attributes={"http.request.method": method, "url.path": scope["path"]},
        ) as span:
            try:
                await self.app(scope, receive, send_with_trace)
            finally:
                elapsed = time.perf_counter() - started
                # The route template, not the raw path, keeps metric cardinality bounded.
                route = getattr(scope.get("route"), "path", "unmatched")
                HTTP_REQUESTS.labels(route, method, str(status)).inc()
                HTTP_LATENCY.labels(route, method).observe(elapsed)
                if span is not None:
                    _conclude(span, method, route, status)
                log.info(
                    "request",
                    method=method,
                    path=scope["path"],
                    route=route,
                    status=status,
                    duration_ms=round(elapsed * 1000, 2),
                )
                structlog.contextvars.unbind_contextvars("trace_id", *_ANNOTATIONS)


def _conclude(span: tracing.Span, method: str, route: str, status: int) -> None:
    span.update_name(f"{method} {route}")
    span.set_attribute("http.route", route)
    span.set_attribute("http.response.status_code", status)
    if status >= 500:
        tracing.failed(span, f"answered {status}")
