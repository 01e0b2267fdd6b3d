"""The operator's Prometheus metrics."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

RECONCILES = Counter(
    "shopstream_operator_reconciles_total",
    "Reconciliations by kind, trigger (change, timer, delete) and outcome "
    "(ready, refused, retrying).",
    ["kind", "trigger", "outcome"],
)
DRIFT_REPAIRS = Counter(
    "shopstream_operator_drift_repairs_total",
    "Backend changes the drift timer found and set back, by kind.",
    ["kind"],
)
RECONCILE_SECONDS = Histogram(
    "shopstream_operator_reconcile_seconds",
    "Time to reconcile one resource, by kind.",
    ["kind"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
