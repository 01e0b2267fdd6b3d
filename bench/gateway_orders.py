"""POST /orders against a no-op FastAPI endpoint, side by side, on one uvicorn process each.

    .venv/bin/python -m bench.gateway_orders [--seconds 10] [--concurrency 32]

What it runs. The gateway (``python -m api``, one process) and ``bench.noop_app`` (one process),
both on loopback, against the local stack (started if needed). The gateway gets a world of its
own: a database, a topic prefix no worker reads, an idempotency table; all removed at the end,
so the orders it accepts never reach the saga. Each POST /orders is a real one: token check,
catalog prices from PostgreSQL, a conditional put in DynamoDB (moto), and a Kafka publish
acknowledged by all replicas before the 202.

How it measures. A small HTTP/1.1 keep-alive client (asyncio streams, requests written by hand,
so the client costs little next to the servers), ``--concurrency`` connections, a warm-up, then
``--seconds`` of load per target; each target is measured alone. Requests per second count
2xx answers only; latency percentiles are over every answer. Everything shares the machine
(servers, client, Kafka, PostgreSQL, moto): the ratio is the figure to compare across machines.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import boto3
import httpx
from aiobotocore.config import AioConfig
from aiokafka.admin import AIOKafkaAdminClient

from api.idempotency import IdempotencyStore, StoredResponse
from api.services.products import catalog_prices
from shopstream.aws import aws_client
from shopstream.settings import REPO_ROOT, Settings, get_settings
from stack import control
from stack.environment import use_local_stack
from stack.process import port_is_free
from streams.contract import Address, OrderLine, OrderPlaced
from streams.publisher import EventPublisher

PASSWORD = "correct horse battery staple"  # noqa: S105 - a throwaway account, dropped after
SKU = "BENCH-MUG"
ORDER = {
    "lines": [{"sku": SKU, "quantity": 1}],
    "shipping_address": {
        "name": "Ada Lovelace",
        "line1": "12 St James's Square",
        "city": "London",
        "postal_code": "SW1Y 4JH",
        "country": "GB",
    },
    "payment_token": "tok_visa",
}


@dataclass
class Result:
    name: str
    seconds: float
    latencies: list[float]
    statuses: Counter[int]
    server_cpu_s: float = 0.0

    @property
    def cpu_ms_per_request(self) -> float:
        return self.server_cpu_s * 1000 / max(1, sum(self.statuses.values()))

    @property
    def ok(self) -> int:
        return sum(count for status, count in self.statuses.items() if 200 <= status < 300)

    @property
    def rps(self) -> float:
        return self.ok / self.seconds

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    return next(port for port in range(28800, 28900) if port_is_free(port))


@contextlib.contextmanager
def server(argv: list[str], env: dict[str, str], port: int, log: Path) -> Iterator[tuple[str, int]]:
    with log.open("wb") as out:
        process = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"{argv} exited:\n{log.read_text()[-3000:]}")
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{url}/openapi.json").status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"{argv} did not answer within 120 s")
            time.sleep(0.2)
        yield url, process.pid
    finally:
        process.terminate()
        process.wait(timeout=30)


async def load(
    name: str,
    port: int,
    pid: int,
    request: Callable[[], bytes],
    seconds: float,
    concurrency: int,
) -> Result:
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    deadline = time.perf_counter() + seconds

    async def connection() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                writer.write(request())
                status = int((await reader.readline()).split()[1])
                length = 0
                while (line := await reader.readline()) not in (b"\r\n", b""):
                    header, _, value = line.partition(b":")
                    if header.lower() == b"content-length":
                        length = int(value)
                await reader.readexactly(length)
                latencies.append(time.perf_counter() - started)
                statuses[status] += 1
        finally:
            writer.close()

    began, cpu = time.perf_counter(), cpu_seconds(pid)
    await asyncio.gather(*(connection() for _ in range(concurrency)))
    elapsed = time.perf_counter() - began
    return Result(name, elapsed, latencies, statuses, cpu_seconds(pid) - cpu)


def raw_post(path: str, port: int, body: bytes, headers: dict[str, str]) -> bytes:
    lines = [f"POST {path} HTTP/1.1", f"Host: 127.0.0.1:{port}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    lines += ["Content-Type: application/json", f"Content-Length: {len(body)}", "", ""]
    return "\r\n".join(lines).encode() + body


async def prepare(url: str, database_url: str) -> str:
    """A product in the bench catalog and a signed-in customer; returns the access token."""
    connection = await asyncpg.connect(database_url)
    try:
        await connection.execute(
            "INSERT INTO products (sku, name, category, price_cents, currency) "
            "VALUES ($1, 'Bench mug', 'bench', 1250, 'EUR')",
            SKU,
        )
    finally:
        await connection.close()
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        email = f"bench-{uuid.uuid4().hex[:8]}@example.com"
        await client.post("/users", json={"email": email, "password": PASSWORD, "name": "B"})
        login = await client.post("/auth/login", json={"email": email, "password": PASSWORD})
        token: str = login.json()["access_token"]
        check = await client.post(
            "/orders",
            json=ORDER,
            headers={"Authorization": f"Bearer {token}", "Idempotency-Key": "check"},
        )
        if check.status_code != 202:
            raise RuntimeError(f"POST /orders answered {check.status_code}: {check.text}")
    return token


async def measure(
    args: argparse.Namespace, noop: tuple[int, int], gateway: tuple[int, int], token: str
) -> list[Result]:
    (noop_port, noop_pid), (gateway_port, gateway_pid) = noop, gateway
    body = json.dumps(ORDER).encode()
    auth = f"Bearer {token}"

    def order_request() -> bytes:
        headers = {"Authorization": auth, "Idempotency-Key": uuid.uuid4().hex}
        return raw_post("/orders", gateway_port, body, headers)

    noop_bytes = raw_post("/noop", noop_port, b"{}", {})
    targets: list[tuple[str, int, int, Callable[[], bytes]]] = [
        ("no-op FastAPI endpoint", noop_port, noop_pid, lambda: noop_bytes),
        ("POST /orders (gateway)", gateway_port, gateway_pid, order_request),
    ]
    results = []
    for name, port, pid, request in targets:
        await load(name, port, pid, request, args.warmup, args.concurrency)
        results.append(await load(name, port, pid, request, args.seconds, args.concurrency))
    return results


def report(results: list[Result], ceilings: dict[str, float], args: argparse.Namespace) -> None:
    print(
        f"\n{args.concurrency} connections, {args.seconds:.0f} s each after {args.warmup:.0f} s "
        f"warm-up, one uvicorn process per server, {os.cpu_count()} CPUs shared with the stack\n"
    )
    print(
        f"{'target':<26}{'req/s':>8}{'p50 ms':>8}{'p99 ms':>8}{'mean ms':>8}"
        f"{'server CPU ms/req':>19}  answers"
    )
    for result in results:
        answers = ", ".join(f"{status}: {n}" for status, n in sorted(result.statuses.items()))
        mean = statistics.fmean(result.latencies) * 1000
        print(
            f"{result.name:<26}{result.rps:>8.0f}{result.percentile(0.5):>8.1f}"
            f"{result.percentile(0.99):>8.1f}{mean:>8.1f}{result.cpu_ms_per_request:>19.2f}"
            f"  {answers}"
        )
    baseline, orders = results
    print(
        f"\nratio POST /orders / no-op: {orders.rps / baseline.rps:.2f} in req/s "
        f"(target >= 0.5), p99 {orders.percentile(0.99) / baseline.percentile(0.99):.1f}x"
    )
    print(f"\neach dependency alone, {args.concurrency} at a time, from one process:")
    for name, rate in ceilings.items():
        print(f"  {name:<44}{rate:>8.0f}/s")


async def dependency_ceilings(
    settings: Settings, run: str, database_url: str, args: argparse.Namespace
) -> dict[str, float]:
    """What each step of POST /orders sustains alone: the ceiling the gateway works under."""
    world = settings.model_copy(
        update={"topic_prefix": f"bench-{run}.", "idempotency_table": f"bench-{run}-idempotency"}
    )
    limit = asyncio.Semaphore(args.concurrency)

    async def rate(step: Callable[[], Awaitable[object]], seconds: float = 3.0) -> float:
        done = 0
        deadline = time.perf_counter() + seconds

        async def worker() -> None:
            nonlocal done
            while time.perf_counter() < deadline:
                async with limit:
                    await step()
                done += 1

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(args.concurrency)))
        return done / (time.perf_counter() - began)

    ceilings: dict[str, float] = {}
    pool = await asyncpg.create_pool(database_url, min_size=4, max_size=10)
    try:
        ceilings["PostgreSQL catalog price query"] = await rate(lambda: catalog_prices(pool, [SKU]))
    finally:
        await pool.close()
    event = OrderPlaced(
        order_id="bench",
        user_id="bench",
        lines=(OrderLine(sku=SKU, quantity=1, unit_price_cents=1250),),
        total_cents=1250,
        currency="EUR",
        shipping_address=Address.model_validate(ORDER["shipping_address"]),
        payment_token="tok_visa",  # noqa: S106 - a test card token
    )
    async with EventPublisher(world) as publisher:
        ceilings["Kafka publish, acks=all"] = await rate(
            lambda: publisher.publish([event.model_copy(update={"order_id": uuid.uuid4().hex})])
        )
    config = AioConfig(max_pool_connections=64)
    async with aws_client(world, "dynamodb", config) as dynamodb:
        store = IdempotencyStore(dynamodb, world)
        response = StoredResponse(202, json.dumps(ORDER), "/orders/bench", ())
        ceilings["DynamoDB conditional put (moto, aiobotocore)"] = await rate(
            lambda: store.claim("bench", uuid.uuid4().hex, "f", response)
        )
    return ceilings


async def cleanup(settings: Settings, run: str, database: str, table: str) -> None:
    admin = await asyncpg.connect(settings.database_url.get_secret_value())
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    finally:
        await admin.close()
    kafka = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    await kafka.start()
    try:
        topics = [name for name in await kafka.list_topics() if name.startswith(f"bench-{run}.")]
        if topics:
            await kafka.delete_topics(topics)
    finally:
        await kafka.close()
    dynamodb = boto3.client(
        "dynamodb", endpoint_url=settings.aws_endpoint_url, region_name=settings.aws_region
    )
    with contextlib.suppress(dynamodb.exceptions.ResourceNotFoundException):
        dynamodb.delete_table(TableName=table)


async def create_database(settings: Settings, database: str) -> str:
    url = settings.database_url.get_secret_value()
    admin = await asyncpg.connect(url)
    try:
        await admin.execute(f'CREATE DATABASE "{database}"')
    finally:
        await admin.close()
    return f"{url.rsplit('/', 1)[0]}/{database}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()

    settings = use_local_stack(get_settings())
    asyncio.run(control.up(settings, control.select(settings), lambda message: None))
    run = uuid.uuid4().hex[:8]
    database, table = f"bench_{run}", f"bench-{run}-idempotency"
    database_url = asyncio.run(create_database(settings, database))
    logs = settings.state_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    gateway_port = free_port()
    gateway_env = {
        **os.environ,
        "SHOPSTREAM_PORTS__GATEWAY": str(gateway_port),
        "SHOPSTREAM_DATABASE_URL": database_url,
        "SHOPSTREAM_TOPIC_PREFIX": f"bench-{run}.",
        "SHOPSTREAM_IDEMPOTENCY_TABLE": table,
        "SHOPSTREAM_GATEWAY_ROUTERS": '["users", "orders"]',
    }
    try:
        with server(
            [sys.executable, "-m", "api"], gateway_env, gateway_port, logs / "bench-gateway.log"
        ) as (gateway_url, gateway_pid):
            noop_port = free_port()
            noop_argv = [
                *(sys.executable, "-m", "uvicorn", "bench.noop_app:app"),
                *("--host", "127.0.0.1", "--port", str(noop_port)),
                *("--no-access-log", "--log-level", "warning"),
            ]
            with server(noop_argv, {**os.environ}, noop_port, logs / "bench-noop.log") as noop:
                token = asyncio.run(prepare(gateway_url, database_url))
                results = asyncio.run(
                    measure(args, (noop_port, noop[1]), (gateway_port, gateway_pid), token)
                )
        ceilings = asyncio.run(dependency_ceilings(settings, run, database_url, args))
    finally:
        asyncio.run(cleanup(settings, run, database, table))
    report(results, ceilings, args)
    return 0


if __name__ == "__main__":
    os.chdir(REPO_ROOT)  # uvicorn imports bench.noop_app from here
    sys.exit(main())
