"""Run the carrier simulator: ``python -m streams.carrier_simulator``."""

from __future__ import annotations

import signal
import threading

from prometheus_client import start_http_server

from shopstream.logs import configure_logging, get_logger
from shopstream.settings import settings_at_start
from shopstream.tracing import configure_tracing
from streams.carrier_simulator.service import CarrierSimulator


def main() -> None:
    settings = settings_at_start("python -m streams.carrier_simulator")
    configure_logging("carrier-simulator", settings.log_level)
    configure_tracing("carrier-simulator", settings)
    start_http_server(settings.ports.carrier_simulator_metrics, addr=settings.worker_host)
    simulator = CarrierSimulator(settings)
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    simulator.run()
    get_logger(__name__).info("consuming", queue=simulator.consumer.queue_name)
    stopping.wait()
    simulator.stop()


if __name__ == "__main__":
    main()
