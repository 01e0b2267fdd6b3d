"""One order, one trace: a gateway, the saga's workers, the projector, the carrier simulator and
the delivery workers, each a process of its own exporting spans over OTLP/HTTP to a real
endpoint in this test, and every span of the order's journey in the trace the client started.

The hops: the client's request -> the gateway (and its PostgreSQL queries) -> Kafka -> the
saga's agents, record by record -> AMQP to the carrier and back -> Kafka; and the order's news
-> SNS -> SQS -> the delivery worker.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from shopstream.aws import aws_client
from shopstream.settings import Settings
from streams.contract import Channel
from streams.testing import free_port
from tests.integration.api.conftest import (
    Catalog,
    GatewayProcess,
    create_admin,
    order_body,
    order_in,
    register,
    sign_in,
    start_gateway,
    stop_gateway,
)
from tests.integration.delivery.conftest import (
    delivery_settings,
    remove_topology,
)
from tests.integration.otlp_receiver import OtlpReceiver, ReceivedSpan, otlp_receiver
from tests.integration.polling import eventually
from tests.integration.saga.conftest import Saga, running_saga

pytestmark = pytest.mark.stack

CLIENT_TRACE = uuid.uuid4().hex
CLIENT_SPAN = uuid.uuid4().hex[:16]
SERVICES = {
    "shopstream-gateway",
    "shopstream-worker-saga",
    "shopstream-carrier-simulator",
    "shopstream-worker-notifications-projections",
    "shopstream-delivery",
}


@dataclass
class Traced:
    receiver: OtlpReceiver
    saga: Saga
    gateway: GatewayProcess


def _delivery_env(settings: Settings) -> dict[str, str]:
    return {
        "SHOPSTREAM_NOTIFICATIONS_TOPIC": settings.notifications_topic,
        "SHOPSTREAM_NOTIFICATION_QUEUE_PREFIX": settings.notification_queue_prefix,
    }


def _spawn_delivery(
    settings: Settings, log_path: Path, env: dict[str, str]
) -> subprocess.Popen[bytes]:
    with log_path.open("wb") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "streams.delivery"],
            env={
                **os.environ,
                **_delivery_env(settings),
                "SHOPSTREAM_NOTIFICATION_DELIVERIES_TABLE": settings.notification_deliveries_table,
                "SHOPSTREAM_NOTIFICATION_WAIT_TIME_S": "1",
                "SHOPSTREAM_SMTP_PORT": str(settings.smtp_port),
                "SHOPSTREAM_PUSH_TOPIC": settings.push_topic,
                "SHOPSTREAM_PORTS__DELIVERY_METRICS": str(free_port()),
                **env,
            },
            stdout=log,
            stderr=subprocess.STDOUT,
        )


@asynccontextmanager
async def delivery_process(
    settings: Settings, log_path: Path, env: dict[str, str]
) -> AsyncIterator[None]:
    """``python -m streams.delivery``, on this test's queues, until the block ends."""
    process = _spawn_delivery(settings, log_path, env)
    try:
        # Subscribed once its queues exist: a notification published before would be lost.
        async with aws_client(settings, "sqs") as sqs:
            for channel in Channel:
                name = f"{settings.notification_queue_prefix}{channel}"

                async def exists(queue: str = name) -> bool:
                    assert process.poll() is None, f"the delivery workers exited: see {log_path}"
                    try:
                        await sqs.get_queue_url(QueueName=queue)
                    except sqs.exceptions.QueueDoesNotExist:
                        return False
                    return True

                await eventually(exists, f"queue {name}")
        yield
    finally:
        process.terminate()
        process.wait(timeout=60)


@pytest.fixture(scope="module")
def receiver() -> Iterator[OtlpReceiver]:
    with otlp_receiver() as started:
        yield started


@pytest.fixture(scope="module")
async def traced(
    stack_settings: Settings, tmp_path_factory: pytest.TempPathFactory, receiver: OtlpReceiver
) -> AsyncIterator[Traced]:
    tracing = {
        "SHOPSTREAM_OTLP_ENDPOINT": receiver.endpoint,
        "SHOPSTREAM_OTLP_EXPORT_DELAY_S": "0.2",
    }
    folder = tmp_path_factory.mktemp("tracing")
    # Push only: e-mail and SMS go to verified addresses, and the shopper verifies none.
    settings = delivery_settings(stack_settings, uuid.uuid4().hex[:10], free_port())
    try:
        async with (
            running_saga(stack_settings, folder, **_delivery_env(settings), **tracing) as saga,
            delivery_process(settings, folder / "delivery.log", tracing),
        ):
            gateway = start_gateway(
                folder / "gateway.log",
                {"SHOPSTREAM_TOPIC_PREFIX": saga.settings.topic_prefix, **tracing},
            )
            try:
                yield Traced(receiver, saga, gateway)
            finally:
                stop_gateway(gateway)
    finally:
        await remove_topology(settings)


async def test_one_trace_spans_an_order_from_the_request_to_the_carrier_and_the_customer(
    traced: Traced,
) -> None:
    async with httpx.AsyncClient(base_url=traced.gateway.url, timeout=30) as client:
        admin_email = f"admin-{uuid.uuid4().hex[:12]}@example.com"
        await create_admin(admin_email)
        sku = await Catalog(client, await sign_in(client, admin_email)).add(stock=3)
        shopper = await register(client, "Tracy")
        placed = await client.post(
            "/orders",
            json=order_body((sku, 1)),
            headers={
                **shopper.headers,
                "Idempotency-Key": uuid.uuid4().hex,
                "traceparent": f"00-{CLIENT_TRACE}-{CLIENT_SPAN}-01",
            },
        )
        assert placed.status_code == 202, placed.text
        assert placed.headers["x-trace-id"] == CLIENT_TRACE
        order_id = placed.json()["order_id"]
        await order_in(client, shopper, order_id, "delivered")

    async def every_hop() -> list[ReceivedSpan] | None:
        spans = traced.receiver.of_trace(CLIENT_TRACE)
        names = {span.name for span in spans}
        done = {span.service for span in spans} >= SERVICES and any(
            name.startswith("deliver push") for name in names
        )
        return spans if done else None

    spans = await eventually(
        every_hop,
        "spans of every process in the order's trace",
        timeout_s=60,
        explain=lambda: _summary(traced.receiver.of_trace(CLIENT_TRACE)),
    )
    by_id = {span.span_id: span for span in spans}

    def parent(span: ReceivedSpan) -> ReceivedSpan:
        assert span.parent_span_id in by_id, f"{span.name}'s parent was not exported"
        return by_id[span.parent_span_id]

    def named(prefix: str, service: str | None = None) -> list[ReceivedSpan]:
        found = [
            span
            for span in spans
            if span.name.startswith(prefix) and (service is None or span.service == service)
        ]
        assert found, f"no span {prefix!r} in\n{_summary(spans)}"
        return found

    # The request continues the client's span; its queries and its send to Kafka are its own.
    requests = [span for span in spans if span.name == "POST /orders"]
    assert len(requests) == 1, _summary(spans)
    [request] = requests
    assert request.kind == "SERVER" and request.parent_span_id == CLIENT_SPAN
    queries = [s for s in spans if s.kind == "CLIENT" and s.service == "shopstream-gateway"]
    assert queries and all(parent(query) is request for query in queries)
    assert all(query.attributes.get("db.system") == "postgresql" for query in queries)
    [placed_send] = [s for s in named("send ") if s.service == "shopstream-gateway"]
    assert parent(placed_send) is request

    # Kafka: the orders agent's handling of OrderPlaced is the child of the gateway's send,
    # and every agent of the saga handled a record of this order in this trace.
    [placed_handled] = named("orders process OrderPlaced")
    assert parent(placed_handled) is placed_send
    for agent in ("inventory", "payments", "shipping"):
        for handled in named(f"{agent} process", "shopstream-worker-saga"):
            sent = parent(handled)
            assert (sent.kind, sent.service) == ("PRODUCER", "shopstream-worker-saga")
            assert parent(sent).kind == "CONSUMER"  # an agent's handling sent it

    # AMQP: the shipping agent's request, the carrier's handling, the reply's receipt.
    [request_sent, *_] = named("publish ", "shopstream-worker-saga")
    carrier = named("carrier handle", "shopstream-carrier-simulator")
    assert all(parent(handled) is request_sent for handled in carrier[:1])
    replies = named("shipping receive carrier reply", "shopstream-worker-saga")
    assert all(parent(reply).service == "shopstream-carrier-simulator" for reply in replies)
    assert any(
        parent(parent(handled)).name == "shipping receive carrier reply"
        for handled in named("shipping process CarrierReplied")
    )

    # SNS -> SQS: each delivery continues the publish of its notification.
    for delivered in named("deliver push notification", "shopstream-delivery"):
        published = parent(delivered)
        assert (published.kind, published.service) == (
            "PRODUCER",
            "shopstream-worker-notifications-projections",
        )

    # Nothing in the trace hangs off a span nobody exported, but the client's own.
    roots = [s for s in spans if s.parent_span_id and s.parent_span_id not in by_id]
    assert roots == [request], _summary(roots)

    # The command line shows the same order's path, from its history, in the same trace.
    async def traced_path() -> str | None:
        shown = await asyncio.create_subprocess_exec(
            *(sys.executable, "-m", "ops.cli", "order", "trace", order_id),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        out, _ = await shown.communicate()
        return out.decode() if b"ShipmentDelivered" in out else None

    path = await eventually(traced_path, "the delivery in the order's history")
    assert f"  trace {CLIENT_TRACE} (from OrderPlaced)" in path.splitlines()


def _summary(spans: list[ReceivedSpan]) -> str:
    return "\n".join(
        f"{span.service:45} {span.kind:9} {span.name} ({span.span_id} <- {span.parent_span_id})"
        for span in sorted(spans, key=lambda span: span.start_ns)
    )
