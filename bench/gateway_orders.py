"""The gateway's hot paths against a no-op FastAPI endpoint, side by side, in one run.

    .venv/bin/python -m bench.gateway_orders [--seconds 10] [--concurrency 32]

What it runs. The gateway (``python -m api``, one process, routers users, products and orders)
and ``bench.noop_app`` (one process), both served by uvicorn the same way: uvloop and httptools,
no access log. The gateway gets a world of its own: a database and a topic prefix no worker
reads, removed at the end, so the orders it accepts never reach the saga. Each POST /orders is
a real one with a fresh ``Idempotency-Key``: token check, the key claimed with the catalog
prices in one PostgreSQL statement, and a Kafka publish acknowledged by all replicas before the
202. GET /products reads a page of the catalog; GET /orders/{id} an order of the status
projection (a row written here, as the projector would). None of them calls AWS.

How it measures. A small HTTP/1.1 keep-alive client (asyncio streams on uvloop, requests written
by hand, so the client costs little next to the servers), ``--concurrency`` connections, a
warm-up, then ``--seconds`` of load per target at full speed (req/s counts 2xx answers only;
latency percentiles are over every answer), then ``--seconds`` more at half of the rate just
reached, paced (each request has its time slot, and its latency counts from that slot, so a
server that falls behind is not let off). Each target is measured alone. Everything shares the
machine (servers, client, Kafka, PostgreSQL): the ratios are the figures to compare.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import httpx
import uvloop
from aiokafka.admin import AIOKafkaAdminClient

from api.idempotency import Envelope, IdempotencyStore
from shopstream.settings import REPO_ROOT, Settings, get_settings
from stack import control
from stack.environment import use_local_stack
from stack.process import port_is_free
from streams.contract import Address, OrderLine, OrderPlaced
from streams.publisher import EventPublisher

# The same server settings for both: what api/__main__.py gives the gateway.
SERVER_FLAGS = ("--loop", "uvloop", "--http", "httptools", "--no-access-log", "--no-proxy-headers")

PASSWORD = "correct horse battery staple"  # noqa: S105 - a throwaway account, dropped after
SKU = "BENCH-MUG"
CATALOG_SIZE = 60  # GET /products reads the first page (20) of these
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

    def answers(self) -> str:
        return ", ".join(f"{status}: {n}" for status, n in sorted(self.statuses.items()))


@dataclass(frozen=True)
class Target:
    name: str
    port: int
    pid: int
    request: Callable[[], bytes]


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


async def load(target: Target, seconds: float, concurrency: int, rate: float | None) -> Result:
    """``concurrency`` connections for ``seconds``: as fast as answers come, or paced at
    ``rate`` requests/s (latency then counts from each request's slot, not from its send)."""
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    began = time.perf_counter()
    deadline = began + seconds
    slots = itertools.count()

    async def connection() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", target.port)
        try:
            while True:
                started = time.perf_counter()
                if rate is not None:
                    started = began + next(slots) / rate
                    if started >= deadline:
                        return
                    if (wait := started - time.perf_counter()) > 0:
                        await asyncio.sleep(wait)
                elif started >= deadline:
                    return
                writer.write(target.request())
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

    cpu = cpu_seconds(target.pid)
    await asyncio.gather(*(connection() for _ in range(concurrency)))
    elapsed = time.perf_counter() - began
    return Result(target.name, elapsed, latencies, statuses, cpu_seconds(target.pid) - cpu)


def raw_request(
    method: str, path: str, port: int, headers: dict[str, str], body: bytes | None = None
) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{port}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    if body is not None:
        lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    return "\r\n".join([*lines, "", ""]).encode() + (body or b"")


async def prepare(url: str, database_url: str) -> tuple[str, str]:
    """A catalog, a signed-in customer and one projected order of theirs: (token, order id)."""
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        email = f"bench-{uuid.uuid4().hex[:8]}@example.com"
        await client.post("/users", json={"email": email, "password": PASSWORD, "name": "B"})
        login = await client.post("/auth/login", json={"email": email, "password": PASSWORD})
        token: str = login.json()["access_token"]
        auth = {"Authorization": f"Bearer {token}"}
        user_id = (await client.get("/users/me", headers=auth)).json()["user_id"]
        connection = await asyncpg.connect(database_url)
        try:
            await connection.executemany(
                "INSERT INTO products (sku, name, description, category, price_cents, currency) "
                "VALUES ($1, $2, 'Stoneware, dishwasher safe.', 'bench', $3, 'EUR')",
                [
                    (SKU if n == 0 else f"BENCH-{n:03}", f"Bench mug {n}", 1250 + n)
                    for n in range(CATALOG_SIZE)
                ],
            )
            # What the projector writes once the saga has the order.
            order_id = f"ord_{uuid.uuid4().hex}"
            await connection.execute(
                "INSERT INTO orders (order_id, user_id, status, total_cents, currency, "
                "shipping_address, version, created_at, updated_at) "
                "VALUES ($1, $2, 'paid', 2500, 'EUR', $3, 3, now(), now())",
                order_id,
                user_id,
                json.dumps(ORDER["shipping_address"]),
            )
            await connection.execute(
                "INSERT INTO order_lines (order_id, sku, line_no, quantity, unit_price_cents) "
                "VALUES ($1, $2, 1, 2, 1250)",
                order_id,
                SKU,
            )
        finally:
            await connection.close()
        checks = {
            "/orders": await client.post(
                "/orders", json=ORDER, headers={**auth, "Idempotency-Key": "check"}
            ),
            "/products": await client.get("/products"),
            f"/orders/{order_id}": await client.get(f"/orders/{order_id}", headers=auth),
        }
        for path, answer in checks.items():
            if answer.status_code not in (200, 202):
                raise RuntimeError(f"{path} answered {answer.status_code}: {answer.text}")
    return token, order_id


async def measure(
    args: argparse.Namespace,
    noop: tuple[int, int],
    gateway: tuple[int, int],
    token: str,
    order_id: str,
) -> list[tuple[Result, Result]]:
    """Each target at full speed, then at half that rate: (max, half) per target."""
    (noop_port, noop_pid), (gateway_port, gateway_pid) = noop, gateway
    body = json.dumps(ORDER).encode()
    auth = f"Bearer {token}"

    def order_request() -> bytes:
        headers = {"Authorization": auth, "Idempotency-Key": uuid.uuid4().hex}
        return raw_request("POST", "/orders", gateway_port, headers, body)

    noop_bytes = raw_request("POST", "/noop", noop_port, {}, b"{}")
    products = raw_request("GET", "/products", gateway_port, {})
    order = raw_request("GET", f"/orders/{order_id}", gateway_port, {"Authorization": auth})
    targets = [
        Target("no-op FastAPI endpoint", noop_port, noop_pid, lambda: noop_bytes),
        Target("POST /orders", gateway_port, gateway_pid, order_request),
        Target("GET /products", gateway_port, gateway_pid, lambda: products),
        Target("GET /orders/{id}", gateway_port, gateway_pid, lambda: order),
    ]
    chosen = {"orders": "POST /orders", "products": "GET /products", "order": "GET /orders/{id}"}
    names = {chosen[name] for name in args.targets.split(",")}
    targets = [targets[0], *(target for target in targets[1:] if target.name in names)]
    results = []
    for target in targets:
        await load(target, args.warmup, args.concurrency, None)
        full = await load(target, args.seconds, args.concurrency, None)
        half = await load(target, args.seconds, args.concurrency, full.rps / 2)
        results.append((full, half))
    return results


def report(
    results: list[tuple[Result, Result]], ceilings: dict[str, float], args: argparse.Namespace
) -> None:
    print(
        f"\n{args.concurrency} connections, {args.seconds:.0f} s per target at max rate, then "
        f"{args.seconds:.0f} s at half of it, after {args.warmup:.0f} s warm-up; one uvicorn "
        f"process per server (uvloop, httptools); {os.cpu_count()} CPUs shared with the stack\n"
    )
    print(
        f"{'':<24}{'--------- max rate ---------':>38}  {'---- half of max ----':>24}\n"
        f"{'target':<24}{'req/s':>8}{'p50 ms':>8}{'p99 ms':>8}{'CPU ms/req':>12}  "
        f"{'req/s':>8}{'p50 ms':>8}{'p99 ms':>8}  answers"
    )
    for full, half in results:
        print(
            f"{full.name:<24}{full.rps:>8.0f}{full.percentile(0.5):>8.1f}"
            f"{full.percentile(0.99):>8.1f}{full.cpu_ms_per_request:>12.2f}  "
            f"{half.rps:>8.0f}{half.percentile(0.5):>8.1f}{half.percentile(0.99):>8.1f}"
            f"  {full.answers()}; {half.answers()}"
        )
    baseline = results[0][0]
    targets = {"POST /orders": 0.5, "GET /products": 0.7, "GET /orders/{id}": None}
    print("\nratio to the no-op in req/s (same run, same server settings):")
    for full, half in results[1:]:
        target = targets[full.name]
        goal = f"target >= {target}" if target else "no target"
        met = "" if target is None else (" met" if full.rps / baseline.rps >= target else " MISSED")
        p99 = half.percentile(0.99)
        print(
            f"  {full.name:<22}{full.rps / baseline.rps:>6.2f}  ({goal}{met}); "
            f"p99 at half of max {p99:.1f} ms (target <= 50{'' if p99 <= 50 else ' MISSED'})"
        )
    print(f"\neach dependency of POST /orders alone, {args.concurrency} at a time, one process:")
    for name, rate in ceilings.items():
        print(f"  {name:<52}{rate:>8.0f}/s")


async def dependency_ceilings(
    settings: Settings, run: str, database_url: str, args: argparse.Namespace
) -> dict[str, float]:
    """What each step of POST /orders sustains alone: the ceiling the gateway works under."""
    world = settings.model_copy(update={"topic_prefix": f"bench-{run}."})
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

    def envelope() -> Envelope:
        return Envelope(f"ord_{uuid.uuid4().hex}", uuid.uuid4(), datetime.now(UTC), "0" * 32)

    ceilings: dict[str, float] = {}
    pool = await asyncpg.create_pool(database_url, min_size=4, max_size=10)
    try:
        store = IdempotencyStore(pool, world)
        ceilings["PostgreSQL: key claimed with the prices (1 statement)"] = await rate(
            lambda: store.claim_order("bench", uuid.uuid4().hex, "f", [SKU], envelope())
        )
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
    return ceilings


async def cleanup(settings: Settings, run: str, database: str) -> None:
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
    parser.add_argument(
        "--targets",
        default="orders,products,order",
        help="which of orders, products, order (GET /orders/{id}) to run beside the no-op",
    )
    args = parser.parse_args()

    settings = use_local_stack(get_settings())
    asyncio.run(control.up(settings, control.select(settings), lambda message: None))
    run = uuid.uuid4().hex[:8]
    database = f"bench_{run}"
    database_url = asyncio.run(create_database(settings, database))
    logs = settings.state_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    gateway_port = free_port()
    gateway_env = {
        **os.environ,
        "SHOPSTREAM_PORTS__GATEWAY": str(gateway_port),
        "SHOPSTREAM_DATABASE_URL": database_url,
        "SHOPSTREAM_TOPIC_PREFIX": f"bench-{run}.",
        "SHOPSTREAM_GATEWAY_ROUTERS": '["users", "products", "orders"]',
        "SHOPSTREAM_STOREFRONT_ENABLED": "false",
    }
    try:
        with server(
            [sys.executable, "-m", "api"], gateway_env, gateway_port, logs / "bench-gateway.log"
        ) as (gateway_url, gateway_pid):
            noop_port = free_port()
            noop_argv = [
                *(sys.executable, "-m", "uvicorn", "bench.noop_app:app"),
                *("--host", "127.0.0.1", "--port", str(noop_port)),
                *SERVER_FLAGS,
                *("--log-level", "warning"),
            ]
            with server(noop_argv, {**os.environ}, noop_port, logs / "bench-noop.log") as noop:
                token, order_id = uvloop.run(prepare(gateway_url, database_url))
                results = uvloop.run(
                    measure(
                        args, (noop_port, noop[1]), (gateway_port, gateway_pid), token, order_id
                    )
                )
        ceilings = uvloop.run(dependency_ceilings(settings, run, database_url, args))
    finally:
        asyncio.run(cleanup(settings, run, database))
    report(results, ceilings, args)
    return 0


if __name__ == "__main__":
    os.chdir(REPO_ROOT)  # uvicorn imports bench.noop_app from here
    sys.exit(main())
