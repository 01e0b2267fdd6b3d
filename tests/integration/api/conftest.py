"""A gateway started as a real process over the real stack, and the people who use it.

The gateway serves every router, with the stack's own databases, topics and tables: order
tests need the stream worker (started here if it is not running) to take their orders through
the saga and project them back. Tests keep apart by unique emails and SKUs. The e-mail every
gateway started here sends (verification codes) goes to a real SMTP server in this process,
``gateway_mailbox``, where the tests read it.
"""

from __future__ import annotations

import asyncio
import functools
import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from ops.apigateway import gateway_document
from shopstream.settings import REPO_ROOT, Settings
from stack.apps import CarrierSimulator, Projector, Worker
from streams.testing import free_port
from tests.integration.delivery.conftest import Mailbox, smtp_server

PASSWORD = "correct horse battery staple"
ADDRESS = {
    "name": "Ada Lovelace",
    "line1": "12 St James's Square",
    "city": "London",
    "postal_code": "SW1Y 4JH",
    "country": "GB",
}


# Registration and sign-in are limited per client address, every test comes from 127.0.0.1,
# and the counts are shared by every gateway on the stack; the admin is one user across tests.
# So every gateway a test starts lifts them, unless its test sets them (test_limits); the
# limits themselves are tested on gateways of their own (test_deployments, test_limits).
UNLIMITED = {
    f"SHOPSTREAM_{name}": "100000"
    for name in (
        "REGISTRATIONS_PER_WINDOW",
        "LOGIN_ATTEMPTS_PER_ADDRESS_PER_WINDOW",
        "ORDER_CANCELLATIONS_PER_WINDOW",
        "PAYMENT_RETRIES_PER_WINDOW",
        "ADDRESS_CHANGES_PER_WINDOW",
    )
}


@dataclass
class GatewayProcess:
    url: str
    log_path: Path
    process: subprocess.Popen[bytes]

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")


def _mailbox() -> dict[str, str]:
    return {} if _mailbox_port is None else {"SHOPSTREAM_SMTP_PORT": str(_mailbox_port)}


def start_gateway(log_path: Path, env: Mapping[str, str]) -> GatewayProcess:
    # The kernel's pick: a fixed block of ports is shared with whoever else runs gateways here.
    port = free_port()
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "api"],
            env={
                **os.environ,
                **_mailbox(),
                "SHOPSTREAM_PORTS__GATEWAY": str(port),
                **UNLIMITED,
                **env,
            },
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    gateway = GatewayProcess(f"http://127.0.0.1:{port}", log_path, process)
    deadline = time.monotonic() + 60
    while True:
        assert process.poll() is None, gateway.log_text()
        try:
            if httpx.get(f"{gateway.url}/healthz").status_code == 200:
                return gateway
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, "gateway did not answer within 60 s"
        time.sleep(0.2)


def stop_gateway(gateway: GatewayProcess) -> None:
    gateway.process.terminate()
    gateway.process.wait(timeout=30)


# The port of the SMTP server that every gateway a test starts sends its e-mail to.
_mailbox_port: int | None = None


@pytest.fixture(scope="session", autouse=True)
def gateway_mailbox() -> Iterator[Mailbox]:
    """A real SMTP server (aiosmtpd) in this process, which every gateway started here sends
    its e-mail to (``start_gateway`` hands it the port; the process's own environment is
    left alone, so tests run after these see the settings' defaults)."""
    global _mailbox_port
    with smtp_server() as box:
        _mailbox_port = box.port
        try:
            yield box
        finally:
            _mailbox_port = None


@pytest.fixture(scope="session")
def gateway(
    stack_settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GatewayProcess]:
    started = start_gateway(tmp_path_factory.mktemp("gateway") / "gateway.log", {})
    try:
        yield started
    finally:
        stop_gateway(started)


@pytest.fixture(scope="session")
def worker(stack_settings: Settings) -> None:
    """The stack's stream workers (the saga's, and the projector that keeps the read models
    the gateway reads) and the carrier simulator at the other end of the saga's AMQP link,
    which order tests need (up to delivery), started unless they run already."""
    parts = (Worker, Projector, CarrierSimulator)
    if all(part(stack_settings).is_running() for part in parts):
        return
    subprocess.run(
        [str(REPO_ROOT / ".venv" / "bin" / "shopstream"), "stack", "up", *(p.name for p in parts)],
        check=True,
        capture_output=True,
        timeout=180,
    )


@pytest.fixture(scope="session")
async def client(gateway: GatewayProcess) -> AsyncIterator[httpx.AsyncClient]:
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
    async with httpx.AsyncClient(base_url=gateway.url, timeout=30, limits=limits) as opened:
        yield opened


@dataclass
class Person:
    email: str
    password: str
    user_id: str
    access_token: str
    refresh_token: str
    headers: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.headers = {"Authorization": f"Bearer {self.access_token}"}


async def sign_in(client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> Person:
    response = await client.post("/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    tokens = response.json()
    me = await client.get(
        "/users/me", headers={"Authorization": f"Bearer {tokens['access_token']}"}
    )
    return Person(
        email, password, me.json()["user_id"], tokens["access_token"], tokens["refresh_token"]
    )


async def register(client: httpx.AsyncClient, name: str = "Customer") -> Person:
    email = f"{name.lower()}-{uuid.uuid4().hex[:12]}@example.com"
    response = await client.post(
        "/users", json={"email": email, "password": PASSWORD, "name": name}
    )
    assert response.status_code == 202, response.text
    return await sign_in(client, email)


Register = Callable[[], Awaitable[Person]]


@pytest.fixture
def new_customer(client: httpx.AsyncClient) -> Register:
    return lambda: register(client)


@pytest.fixture
async def customer(client: httpx.AsyncClient) -> Person:
    return await register(client, "Alice")


@pytest.fixture
async def other_customer(client: httpx.AsyncClient) -> Person:
    return await register(client, "Bob")


@pytest.fixture(scope="session")
async def admin(client: httpx.AsyncClient, stack_settings: Settings) -> Person:
    """The first admin, made the only way there is: the command line."""
    email = f"admin-{uuid.uuid4().hex[:12]}@example.com"
    out = await create_admin(email)
    assert out.startswith(f"created admin {email}")
    return await sign_in(client, email)


async def create_admin(email: str, env: Mapping[str, str] | None = None) -> str:
    """``python -m api create-admin`` with the tests' password; what it printed. ``env`` adds to
    the environment, for a gateway started with settings of its own (``start_gateway``'s)."""
    made = await asyncio.create_subprocess_exec(
        sys.executable,
        *("-m", "api", "create-admin", email, "--name", "Admin"),
        env={**os.environ, **(env or {})},
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(made.communicate(f"{PASSWORD}\n".encode()), 60)
    assert made.returncode == 0, err.decode()
    return out.decode()


@dataclass(frozen=True)
class Catalog:
    client: httpx.AsyncClient
    admin: Person

    async def add(
        self,
        *,
        price_cents: int = 1250,
        stock: int | None = None,
        category: str = "kitchen",
        name: str = "Stoneware mug",
        description: str = "A mug for tea.",
        currency: str | None = None,
    ) -> str:
        sku = f"T-{uuid.uuid4().hex[:12]}"
        body: dict[str, Any] = {
            "sku": sku,
            "name": name,
            "description": description,
            "category": category,
            "price_cents": price_cents,
        }
        if currency:
            body["currency"] = currency
        response = await self.client.post("/products", json=body, headers=self.admin.headers)
        assert response.status_code == 201, response.text
        if stock is not None:
            await self.set_stock(sku, stock)
        return sku

    async def set_stock(self, sku: str, on_hand: int) -> None:
        """Through the inventory agent, and back through its read model."""
        response = await self.client.post(
            f"/products/{sku}/stock", json={"set_to": on_hand}, headers=self.admin.headers
        )
        assert response.status_code == 202, response.text
        await eventually(
            lambda: self.client.get(f"/products/{sku}"),
            lambda r: r.json()["stock"]["on_hand"] == on_hand,
        )


@pytest.fixture
def catalog(client: httpx.AsyncClient, admin: Person, worker: None) -> Catalog:
    return Catalog(client, admin)


async def eventually(
    request: Callable[[], Awaitable[httpx.Response]],
    until: Callable[[httpx.Response], bool],
    timeout_s: float = 30.0,
) -> httpx.Response:
    """Ask again until the answer satisfies ``until`` (read models trail the event stream)."""
    deadline = time.monotonic() + timeout_s
    while True:
        response = await request()
        if until(response):
            return response
        assert time.monotonic() < deadline, f"still {response.status_code}: {response.text}"
        await asyncio.sleep(0.1)


def order_body(*lines: tuple[str, int], card: str = "tok_visa") -> dict[str, Any]:
    return {
        "lines": [{"sku": sku, "quantity": quantity} for sku, quantity in lines],
        "shipping_address": ADDRESS,
        "payment_token": card,
    }


async def place(
    client: httpx.AsyncClient, person: Person, body: dict[str, Any], key: str | None = None
) -> httpx.Response:
    headers = {**person.headers, "Idempotency-Key": key or uuid.uuid4().hex}
    return await client.post("/orders", json=body, headers=headers)


async def order_in(
    client: httpx.AsyncClient, person: Person, order_id: str, *statuses: str
) -> dict[str, Any]:
    """The order once the projection shows it in one of ``statuses``."""
    response = await eventually(
        lambda: client.get(f"/orders/{order_id}", headers=person.headers),
        lambda r: r.status_code == 200 and r.json()["status"] in statuses,
    )
    body: dict[str, Any] = response.json()
    return body


_gateway_document = functools.cache(gateway_document)

# The response headers a client acts on; each must be documented where a response sends it.
ACTED_ON_HEADERS = ("Location", "Idempotent-Replayed", "Retry-After", "WWW-Authenticate")


def undocumented_headers(response: httpx.Response) -> list[str]:
    """Which of ``ACTED_ON_HEADERS`` ``response`` sends that its operation does not document
    for its status (the operation found by matching the request's path to the templates of
    the document every gateway serves, routers aside)."""
    document = _gateway_document()
    method = response.request.method.lower()
    path = response.request.url.path
    for template, item in document["paths"].items():
        pattern = re.sub(r"\{[^/]+\}", "[^/]+", template)
        if method in item and re.fullmatch(pattern, path):
            documented = item[method]["responses"].get(str(response.status_code), {})
            names = {name.lower() for name in documented.get("headers", {})}
            return [h for h in ACTED_ON_HEADERS if h in response.headers and h.lower() not in names]
    raise AssertionError(f"{method.upper()} {path} is not in the document")
