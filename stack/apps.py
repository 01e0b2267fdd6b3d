"""The application processes, run on the stack like its other parts: gateway, the workers, the
carrier simulator standing in for the carrier on the other end of the AMQP link, the
dead-letter watch that serves every dead-letter queue's depth and age as metrics, the
notification delivery workers and the SMTP server that keeps what they send."""

from __future__ import annotations

import json
import sys
from abc import abstractmethod
from typing import ClassVar

import aiosmtplib
import httpx

from shopstream.health import Probe
from shopstream.settings import DEFAULT_WORKER_ROLES, PROJECTOR_ROLES, Settings
from stack.environment import local_env
from stack.part import Part
from stack.process import Daemon


async def _http_ok(url: str, settings: Settings) -> str:
    async with httpx.AsyncClient(timeout=settings.health_timeout_s) as client:
        response = await client.get(url)
    response.raise_for_status()
    return f"HTTP {response.status_code}"


class Application(Part):
    """A process of ours, ``python -m <module ...>`` in the stack's environment, answering
    HTTP on one port of its own (its metrics, or the gateway's health)."""

    module: ClassVar[tuple[str, ...]]
    port_name: ClassVar[str]
    health_path: ClassVar[str] = "/metrics"

    @property
    @abstractmethod
    def port(self) -> int: ...

    @property
    def host(self) -> str:
        return self.settings.worker_host

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def ports(self) -> dict[str, int]:
        return {self.port_name: self.port}

    @property
    def address(self) -> str:
        return self.url

    @property
    def environment(self) -> dict[str, str]:
        """Settings of this process alone, over the stack's."""
        return {}

    @property
    def daemons(self) -> list[Daemon]:
        return [
            Daemon(
                name=self.name,
                argv=[sys.executable, "-m", *self.module],
                run_dir=self.run_dir,
                log_path=self.log_path,
                env={**local_env(self.settings), **self.environment},
            )
        ]

    @property
    def probes(self) -> list[tuple[str, Probe]]:
        url = f"{self.url}{self.health_path}"
        return [(self.name, lambda settings: _http_ok(url, settings))]


class Gateway(Application):
    name = "gateway"
    module = ("api",)
    port_name = "gateway"
    health_path = "/healthz"

    @property
    def host(self) -> str:
        return self.settings.gateway_host

    @property
    def port(self) -> int:
        return self.settings.ports.gateway


class Worker(Application):
    """The stream worker of the saga."""

    name = "worker"
    module = ("streams", "--quiet", "worker")
    port_name = "worker web"

    @property
    def port(self) -> int:
        return self.settings.ports.worker_web

    @property
    def environment(self) -> dict[str, str]:
        return {"SHOPSTREAM_WORKER_ROLES": json.dumps(DEFAULT_WORKER_ROLES)}


class Projector(Worker):
    """The stream worker of the read models and the notifications, which follow the saga's
    table changelogs: a process of its own, so that the saga's agents never wait behind a
    projection batch or an SNS publish."""

    name = "projector"
    port_name = "projector web"

    @property
    def port(self) -> int:
        return self.settings.ports.projector_web

    @property
    def environment(self) -> dict[str, str]:
        return {
            "SHOPSTREAM_WORKER_ROLES": json.dumps(PROJECTOR_ROLES),
            "SHOPSTREAM_PORTS__WORKER_WEB": str(self.port),
            # Its own RocksDB folder: two Faust workers do not share one.
            "SHOPSTREAM_WORKER_DATA_DIR": str(self.run_dir / "data"),
        }


class CarrierSimulator(Application):
    name = "carrier"
    module = ("streams.carrier_simulator",)
    port_name = "carrier simulator metrics"

    @property
    def port(self) -> int:
        return self.settings.ports.carrier_simulator_metrics


class DeadLetterWatch(Application):
    name = "dlq-watch"
    module = ("ops.cli", "dlq", "watch")
    port_name = "dead-letter watch metrics"

    @property
    def port(self) -> int:
        return self.settings.ports.dead_letter_watch_metrics


class Delivery(Application):
    """The notification delivery workers (e-mail, SMS, push) on their SQS queues."""

    name = "delivery"
    module = ("streams.delivery",)
    port_name = "delivery metrics"

    @property
    def port(self) -> int:
        return self.settings.ports.delivery_metrics


async def smtp_ok(settings: Settings) -> str:
    smtp = aiosmtplib.SMTP(
        hostname=settings.smtp_host, port=settings.smtp_port, timeout=settings.health_timeout_s
    )
    await smtp.connect()
    try:
        code, _ = await smtp.noop()
    finally:
        await smtp.quit()
    return f"SMTP {code}"


class MailSink(Application):
    """A local SMTP server keeping every message under ``<state_dir>/mail/``."""

    name = "mail"
    module = ("stack.mail_sink",)
    port_name = "smtp"

    @property
    def port(self) -> int:
        return self.settings.smtp_port

    @property
    def address(self) -> str:
        return f"smtp://{self.settings.smtp_host}:{self.port} -> {self.home}"

    @property
    def probes(self) -> list[tuple[str, Probe]]:
        return [("smtp", smtp_ok)]
