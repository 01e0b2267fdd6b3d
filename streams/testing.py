"""A stream worker of its own, for tests and benchmarks: ``python -m streams worker`` as a
process with a topic prefix, app id, data folder and web port that no other system shares;
and the carrier simulator beside it, on the same prefix (its AMQP queues)."""

from __future__ import annotations

import asyncio
import copy
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterable
from pathlib import Path

import httpx
from aiokafka.admin import AIOKafkaAdminClient

from shopstream.settings import Settings, WorkerRole
from streams.adapters import carrier_link


def free_port() -> int:
    """A loopback port nothing listens on (the kernel's pick)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _spawn(module: list[str], env: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    """``python -m <module>`` in a process group of its own, its output to ``log_path``."""
    with log_path.open("wb") as log:
        return subprocess.Popen(
            [sys.executable, "-m", *module],
            env={**os.environ, **env},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _stop(process: subprocess.Popen[bytes] | None) -> None:
    """SIGTERM to the group, then SIGKILL if it has not gone within 30 s."""
    if process is None or process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


async def _wait_answering(
    what: str,
    process: subprocess.Popen[bytes] | None,
    url: str,
    log_path: Path,
    timeout_s: float,
) -> None:
    """Until ``url`` answers with success; the process's log if it exits first."""
    deadline = time.monotonic() + timeout_s
    async with httpx.AsyncClient() as client:
        while True:
            if process is None or process.poll() is not None:
                log = await asyncio.to_thread(log_path.read_text)
                raise RuntimeError(f"{what} exited: {log[-3000:]}")
            try:
                if (await client.get(url)).is_success:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"{what} did not answer within {timeout_s:.0f}s")
            await asyncio.sleep(0.2)


class IsolatedWorker:
    def __init__(
        self, settings: Settings, folder: Path, name: str = "isolated", **env: str
    ) -> None:
        run = uuid.uuid4().hex[:8]
        self.app_id = f"{name}-{run}"
        # What a client of this worker (a publisher, an observer) must use.
        self.settings = settings.model_copy(
            update={"topic_prefix": f"{name}-{run}.", "worker_app_id": self.app_id}
        )
        self.folder = folder
        self.env = env
        self.roles: frozenset[WorkerRole] | None = None  # None: the settings' default
        self.web_port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.runs = 0
        self.replica_no = 0  # 0: the first worker of its roles

    def beside(self, roles: Iterable[WorkerRole]) -> IsolatedWorker:
        """A second worker on this one's topics, with the agents of ``roles`` only: the
        projector beside the saga's worker, say."""
        other = copy.copy(self)
        other.roles = frozenset(roles)
        other.web_port = free_port()
        other.process = None
        other.runs = 0
        return other

    def replica(self, number: int) -> IsolatedWorker:
        """Another worker of this one's roles in its consumer group: it takes a share of the
        partitions (with a data folder and web port of its own)."""
        other = self.beside(self.roles or ())
        other.roles = self.roles
        other.replica_no = number
        return other

    @property
    def label(self) -> str:
        """The app id, the roles of a worker that does not run them all, and which replica."""
        replica = (f"r{self.replica_no}",) if self.replica_no else ()
        return "-".join((self.app_id, *sorted(self.roles or ()), *replica))

    @property
    def log_path(self) -> Path:
        return self.folder / f"{self.label}-{self.runs}.log"

    @property
    def metrics_url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}/metrics"

    def start(self, fresh_data: bool = False) -> None:
        """Start the worker; ``fresh_data``: with an empty data folder (tables from changelogs)."""
        self.runs += 1
        data = self.folder / f"{self.label}-data-{self.runs if fresh_data else 1}"
        env = {
            "SHOPSTREAM_TOPIC_PREFIX": self.settings.topic_prefix,
            "SHOPSTREAM_WORKER_APP_ID": self.app_id,
            "SHOPSTREAM_WORKER_DATA_DIR": str(data),
            "SHOPSTREAM_PORTS__WORKER_WEB": str(self.web_port),
            **({"SHOPSTREAM_WORKER_ROLES": json.dumps(sorted(self.roles))} if self.roles else {}),
            **self.env,
        }
        self.process = _spawn(["streams", "--quiet", "worker"], env, self.log_path)

    def kill(self) -> None:
        """kill -9, the whole process group: no goodbye, no commit."""
        if self.process is not None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def stop(self) -> None:
        _stop(self.process)

    async def delete_topics(self) -> None:
        """Remove this worker's topics and its tables' changelogs, keeping the broker lean."""
        admin = AIOKafkaAdminClient(bootstrap_servers=self.settings.kafka_bootstrap_servers)
        await admin.start()
        try:
            ours = [
                name
                for name in await admin.list_topics()
                if name.startswith((self.settings.topic_prefix, f"{self.app_id}-"))
            ]
            if ours:
                await admin.delete_topics(ours)
        finally:
            await admin.close()

    async def wait_web(self, timeout_s: float = 60) -> None:
        await _wait_answering(
            "worker web", self.process, self.metrics_url, self.log_path, timeout_s
        )


class IsolatedCarrier:
    """``python -m streams.carrier_simulator`` on a worker's prefix, with its metrics port."""

    def __init__(self, worker: IsolatedWorker, **env: str) -> None:
        self.worker = worker
        self.env = env
        self.metrics_port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def log_path(self) -> Path:
        return self.worker.folder / f"{self.worker.app_id}-carrier.log"

    @property
    def metrics_url(self) -> str:
        return f"http://127.0.0.1:{self.metrics_port}/metrics"

    def start(self) -> None:
        env = {
            "SHOPSTREAM_TOPIC_PREFIX": self.worker.settings.topic_prefix,
            "SHOPSTREAM_PORTS__CARRIER_SIMULATOR_METRICS": str(self.metrics_port),
            **self.env,
        }
        self.process = _spawn(["streams.carrier_simulator"], env, self.log_path)

    async def wait_ready(self, timeout_s: float = 60) -> None:
        """Its metrics answer once it consumes (it declares its queues first)."""
        await _wait_answering("carrier", self.process, self.metrics_url, self.log_path, timeout_s)

    def stop(self) -> None:
        _stop(self.process)

    def delete_queues(self) -> None:
        """Remove the link's queues and exchange of this prefix, keeping the broker lean."""
        with carrier_link.connect(self.worker.settings) as connection:
            carrier_link.delete(connection, carrier_link.topology(self.worker.settings))
