"""``python -m operators``: the messaging operator, against the cluster of the kubeconfig
($KUBECONFIG) or, in a pod, of its ServiceAccount.

Standalone (no peering): one replica, which the Deployment's Recreate strategy guarantees.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

import kopf
from prometheus_client import start_http_server

from operators.handlers import register_all
from operators.handlers.lifecycle import OperatorConfig
from shopstream.logs import configure_logging, get_logger
from shopstream.settings import settings_at_start


def build_parser() -> argparse.ArgumentParser:
    settings = settings_at_start("python -m operators")
    parser = argparse.ArgumentParser(prog="python -m operators", description=__doc__)
    parser.add_argument(
        "-n",
        "--namespace",
        action="append",
        default=[],
        help="watch only this namespace (repeatable; default: all namespaces)",
    )
    parser.add_argument(
        "--drift-interval",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="how often each resource is compared with its backend (default: %(default)s)",
    )
    parser.add_argument(
        "--metrics-port",
        type=int,
        default=settings.ports.operator_metrics,
        help="Prometheus metrics port, 0 for none (default: %(default)s)",
    )
    parser.add_argument("--metrics-host", default="127.0.0.1")
    parser.add_argument(
        "--liveness",
        metavar="URL",
        help="kopf's liveness endpoint, e.g. http://0.0.0.0:8080/healthz",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    settings = settings_at_start("python -m operators")
    configure_logging("operator", settings.log_level)
    # One line per management API call would drown the operator's own lines.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    if args.metrics_port:
        start_http_server(args.metrics_port, addr=args.metrics_host)
    registry = kopf.OperatorRegistry()
    register_all(registry, OperatorConfig(settings=settings, drift_interval_s=args.drift_interval))
    get_logger(__name__).info(
        "operator starting",
        namespaces=args.namespace or "all",
        drift_interval_s=args.drift_interval,
        metrics_port=args.metrics_port,
    )
    kopf.run(
        registry=registry,
        standalone=True,
        clusterwide=not args.namespace,
        namespaces=args.namespace,
        liveness_endpoint=args.liveness,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
