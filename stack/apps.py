"""The application processes, run on the stack like its other parts: gateway, worker, the
carrier simulator standing in for the carrier on the other end of the AMQP link, and the
dead-letter watch that serves every dead-letter queue's depth and age as metrics."""

from __future__ import annotations

import sys

import httpx

from shopstream.health import Probe
from shopstream.settings import Settings
from stack.environment import local_env
from stack.part import Part
from stack.process import Daemon


async def _http_ok(url: str, settings: Settings) -> str:
    async with httpx.AsyncClient(timeout=settings.health_timeout_s) as client:
        response = await client.get(url)
    response.raise_for_status()
    return f"HTTP {response.status_code}"


class Gateway(Part):
    name = "gateway"

    @property
    def url(self) -> str:
        return f"http://{self.settings.gateway_host}:{self.settings.ports.gateway}"

    @property
    def ports(self) -> dict[str, int]:
        return {"gateway": self.settings.ports.gateway}

    @property
    def address(self) -> str:
        return self.url

    @property
    def daemons(self) -> list[Daemon]:
        return [
            Daemon(
                name=self.name,
                argv=[sys.executable, "-m", "api"],
                run_dir=self.run_dir,
                log_path=self.log_path,
                env=local_env(self.settings),
            )
        ]

    @property
    def probes(self) -> list[tuple[str, Probe]]:
        url = f"{self.url}/healthz"
        return [("gateway", lambda settings: _http_ok(url, settings))]


class Worker(Part):
    name = "worker"

    @property
    def url(self) -> str:
        return f"http://{self.settings.worker_host}:{self.settings.ports.worker_web}"

    @property
    def ports(self) -> dict[str, int]:
        return {"worker web": self.settings.ports.worker_web}

    @property
    def address(self) -> str:
        return self.url

    @property
    def daemons(self) -> list[Daemon]:
        return [
            Daemon(
                name=self.name,
                argv=[sys.executable, "-m", "streams", "--quiet", "worker"],
                run_dir=self.run_dir,
                log_path=self.log_path,
                env=local_env(self.settings),
            )
        ]

    @property
    def probes(self) -> list[tuple[str, Probe]]:
        url = f"{self.url}/metrics"
        return [("worker", lambda settings: _http_ok(url, settings))]


class CarrierSimulator(Part):
    name = "carrier"

    @property
    def url(self) -> str:
        return f"http://{self.settings.worker_host}:{self.settings.carrier_simulator_metrics_port}"

    @property
    def ports(self) -> dict[str, int]:
        return {"carrier simulator metrics": self.settings.carrier_simulator_metrics_port}

    @property
    def address(self) -> str:
        return self.url

    @property
    def daemons(self) -> list[Daemon]:
        return [
            Daemon(
                name=self.name,
                argv=[sys.executable, "-m", "streams.carrier_simulator"],
                run_dir=self.run_dir,
                log_path=self.log_path,
                env=local_env(self.settings),
            )
        ]

    @property
    def probes(self) -> list[tuple[str, Probe]]:
        url = f"{self.url}/metrics"
        return [("carrier", lambda settings: _http_ok(url, settings))]


class DeadLetterWatch(Part):
    name = "dlq-watch"

    @property
    def url(self) -> str:
        return f"http://{self.settings.worker_host}:{self.settings.dead_letter_watch_port}"

    @property
    def ports(self) -> dict[str, int]:
        return {"dead-letter watch metrics": self.settings.dead_letter_watch_port}

    @property
    def address(self) -> str:
        return self.url

    @property
    def daemons(self) -> list[Daemon]:
        return [
            Daemon(
                name=self.name,
                argv=[sys.executable, "-m", "shopstream.cli", "dlq", "watch"],
                run_dir=self.run_dir,
                log_path=self.log_path,
                env=local_env(self.settings),
            )
        ]

    @property
    def probes(self) -> list[tuple[str, Probe]]:
        url = f"{self.url}/metrics"
        return [("dlq-watch", lambda settings: _http_ok(url, settings))]
