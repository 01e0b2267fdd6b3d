"""Prometheus metrics shared by the processes (CloudWatch export builds on these)."""

from __future__ import annotations

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

HTTP_REQUESTS = Counter(
    "shopstream_http_requests_total",
    "HTTP requests served, by route template, method and status code.",
    ["route", "method", "status"],
)
HTTP_LATENCY = Histogram(
    "shopstream_http_request_duration_seconds",
    "Time to serve an HTTP request, by route template and method.",
    ["route", "method"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
DEPENDENCY_UP = Histogram(
    "shopstream_dependency_probe_seconds",
    "Latency of readiness probes, by dependency and outcome.",
    ["dependency", "ok"],
)


def exposition() -> tuple[bytes, str]:
    """The registry in Prometheus' text format, with its content type."""
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


STREAM_EVENTS = Counter(
    "shopstream_stream_events_total",
    "Records consumed by a stream agent, by agent, record type and outcome "
    "(applied, duplicate, dead_lettered).",
    ["agent", "type", "outcome"],
)
STREAM_BATCH_DURATION = Histogram(
    "shopstream_stream_batch_duration_seconds",
    "Time for an agent to apply one batch of records, its outputs acknowledged by Kafka and "
    "its rows stored included.",
    ["agent"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
STREAM_BATCH_SIZE = Histogram(
    "shopstream_stream_batch_records",
    "Records an agent applied in one batch: 1 at a trickle, more under load.",
    ["agent"],
    buckets=(1, 2, 5, 10, 25, 50, 100, 250, 500, 1000),
)

CARRIER_MESSAGES = Counter(
    "shopstream_carrier_messages_total",
    "Messages on the carrier link, by queue and outcome (sent, handled, dead_lettered, dropped).",
    ["queue", "outcome"],
)

DEAD_LETTERS_WAITING = Gauge(
    "shopstream_dead_letters",
    "Dead letters waiting for an operator, by queue (kafka/..., sqs/..., amqp/...).",
    ["queue"],
)
DEAD_LETTER_OLDEST_AGE = Gauge(
    "shopstream_dead_letter_oldest_age_seconds",
    "Age of the oldest dead letter waiting, by queue; 0 when none waits.",
    ["queue"],
)
NOTIFICATIONS_PUBLISHED = Counter(
    "shopstream_notifications_published_total",
    "Customer notifications published to SNS, by channel and kind.",
    ["channel", "kind"],
)
NOTIFICATIONS_SENT = Counter(
    "shopstream_notifications_sent_total",
    "Customer notifications handed to their channel (SMTP, SMS, MQTT), by channel; "
    "outcome 'duplicate' counts redeliveries recognised and not sent again.",
    ["channel", "outcome"],
)
NOTIFICATIONS_FAILED = Counter(
    "shopstream_notifications_failed_total",
    "Delivery attempts that failed (the message is retried, then dead-lettered), by channel.",
    ["channel"],
)
OUTBOX_SENT = Counter(
    "shopstream_outbox_sent_total",
    "Outbox rows a gateway's relay published to Kafka and marked sent (a resend counts again).",
)
LIVE_EVENTS = Counter(
    "shopstream_live_events_total", "Order events a gateway's live stream read from Kafka."
)
LIVE_SUBSCRIBERS = Gauge(
    "shopstream_live_subscribers", "Browsers following an order or their notifications."
)
LIVE_DROPPED = Counter(
    "shopstream_live_subscribers_dropped_total",
    "Live streams ended because the browser fell behind (it resumes by Last-Event-ID).",
)
