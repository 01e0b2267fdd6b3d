"""The storefront in a real browser against a running system of its own.

Debian's Chromium, driven by Playwright, talks to a gateway and a stream worker started here as
processes over the local stack (Kafka, PostgreSQL, moto), with a topic prefix and app id that
no other system shares. The worker runs the simulated payment function and carrier, which fails
the first collection for postal code 00001 and every one for 00000; its shipping retry waits
``SHIPPING_RETRY_BACKOFF_S`` (a setting), so that such an order is still on its way when the
order page opens, and a journey watches the rest happen live.

Each journey saves screenshots under ``test-artifacts/e2e/<test>/`` (ignored by git), and
fails on any script error or console error of the page, except the browser's own report of an
HTTP error status that the page answered with a readable message.

The gateway's e-mail (the codes that confirm notification addresses) goes to an SMTP server in
this process, where a journey reads the code a customer would find in their inbox.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser, ConsoleMessage, Page, async_playwright, expect

from shopstream.settings import REPO_ROOT, Settings, get_settings
from stack import control
from stack.environment import use_local_stack
from streams.publisher import ensure_topics
from streams.testing import IsolatedCarrier, IsolatedWorker
from tests.integration.api.conftest import (
    PASSWORD,
    GatewayProcess,
    create_admin,
    eventually,
    start_gateway,
    stop_gateway,
)
from tests.integration.delivery.conftest import Mailbox, smtp_server

ARTIFACTS = REPO_ROOT / "test-artifacts" / "e2e"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
SHIPPING_RETRY_BACKOFF_S = "4"
# Chromium logs every HTTP error status as a console error; the pages turn the ones they expect
# (a refused card, a sold-out line, an order not projected yet) into messages of their own.
_HTTP_STATUS_REPORT = re.compile(r"^Failed to load resource: the server responded with a status")
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}

expect.set_options(timeout=20_000)


@pytest.fixture(scope="session")
async def stack_settings() -> AsyncIterator[Settings]:
    settings = use_local_stack(get_settings())
    await control.up(settings, control.select(settings), lambda message: None)
    yield settings


@dataclass
class System:
    worker: IsolatedWorker
    carrier: IsolatedCarrier
    gateway: GatewayProcess
    settings: Settings
    mailbox: Mailbox

    @property
    def url(self) -> str:
        return self.gateway.url


@pytest.fixture(scope="session")
def mailbox() -> Iterator[Mailbox]:
    with smtp_server() as box:
        yield box


@pytest.fixture(scope="session")
async def system(
    stack_settings: Settings, tmp_path_factory: pytest.TempPathFactory, mailbox: Mailbox
) -> AsyncIterator[System]:
    folder = tmp_path_factory.mktemp("storefront")
    timing = {"SHOPSTREAM_SHIPPING_RETRY_BACKOFF_S": SHIPPING_RETRY_BACKOFF_S}
    worker = IsolatedWorker(stack_settings, folder, name="e2e", **timing)
    projector = worker.beside(["projections"])  # the read models the pages show
    # The carrier at the other end of the AMQP link, on the worker's prefix.
    carrier = IsolatedCarrier(worker, **timing)
    # Declared before the worker starts: a topic missing when its group assigns partitions
    # would leave that agent without any until the next rebalance.
    await ensure_topics(worker.settings)
    worker.start()
    projector.start()
    carrier.start()
    gateway: GatewayProcess | None = None
    try:
        await worker.wait_web()
        await projector.wait_web()
        await carrier.wait_ready()
        gateway = await asyncio.to_thread(
            start_gateway,
            folder / "gateway.log",
            {
                "SHOPSTREAM_TOPIC_PREFIX": worker.settings.topic_prefix,
                "SHOPSTREAM_WORKER_APP_ID": worker.app_id,
                "SHOPSTREAM_SMTP_PORT": str(mailbox.port),
            },
        )
        yield System(worker, carrier, gateway, worker.settings, mailbox)
    finally:
        if gateway is not None:
            stop_gateway(gateway)
        worker.stop()
        projector.stop()
        carrier.stop()
        await worker.delete_topics()
        carrier.delete_queues()


@pytest.fixture(scope="session")
async def rest(system: System) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=system.url, timeout=30) as client:
        yield client


@dataclass(frozen=True)
class Account:
    email: str
    headers: dict[str, str]


@pytest.fixture(scope="session")
async def admin(rest: httpx.AsyncClient, system: System) -> Account:
    email = f"admin-{uuid.uuid4().hex[:12]}@example.com"
    await create_admin(email)
    return await signed_in(rest, email)


@dataclass(frozen=True)
class Shelf:
    """Products made through the admin REST API, with stock through the inventory agent."""

    rest: httpx.AsyncClient
    admin: Account

    async def add(self, name: str, price_cents: int, stock: int, category: str = "e2e") -> str:
        sku = f"E2E-{uuid.uuid4().hex[:10]}"
        body = {"sku": sku, "name": name, "category": category, "price_cents": price_cents}
        created = await self.rest.post("/products", json=body, headers=self.admin.headers)
        assert created.status_code == 201, created.text
        await self.set_stock(sku, stock)
        return sku

    async def set_stock(self, sku: str, on_hand: int) -> None:
        answer = await self.rest.post(
            f"/products/{sku}/stock", json={"set_to": on_hand}, headers=self.admin.headers
        )
        assert answer.status_code == 202, answer.text
        await eventually(
            lambda: self.rest.get(f"/products/{sku}"),
            lambda r: r.json()["stock"]["on_hand"] == on_hand,
        )


async def signed_in(rest: httpx.AsyncClient, email: str) -> Account:
    answer = await rest.post("/auth/login", json={"email": email, "password": PASSWORD})
    assert answer.status_code == 200, answer.text
    return Account(email, {"Authorization": f"Bearer {answer.json()['access_token']}"})


async def another_customer(rest: httpx.AsyncClient) -> Account:
    email = f"other-{uuid.uuid4().hex[:10]}@example.com"
    made = await rest.post("/users", json={"email": email, "password": PASSWORD, "name": "O"})
    assert made.status_code == 202, made.text
    return await signed_in(rest, email)


@pytest.fixture
def shelf(rest: httpx.AsyncClient, admin: Account) -> Shelf:
    return Shelf(rest, admin)


@pytest.fixture
def tag() -> str:
    """A word no other product has: what a journey searches for."""
    return "zz" + "".join(chr(ord("a") + int(c, 16)) for c in uuid.uuid4().hex[:8])


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield launched
        await launched.close()


@dataclass
class Tab:
    """A browser context of one person, with its console watched and its screenshots kept."""

    page: Page
    folder: Path
    base_url: str
    errors: list[str] = field(default_factory=list)
    shots: int = 0

    async def shot(self, name: str) -> Path:
        self.shots += 1
        path = self.folder / f"{self.shots:02d}-{name}.png"
        await self.page.screenshot(path=path, full_page=True)
        return path

    async def goto(self, path: str) -> None:
        await self.page.goto(self.base_url + path)


@dataclass
class Tabs:
    browser: Browser
    system: System
    folder: Path
    opened: list[Tab] = field(default_factory=list)

    async def open(self, who: str, viewport: dict[str, int] | None = None) -> Tab:
        context = await self.browser.new_context(viewport=viewport or DESKTOP)  # type: ignore[arg-type]
        page = await context.new_page()
        tab = Tab(page, self.folder / who, self.system.url)
        tab.folder.mkdir(parents=True, exist_ok=True)

        def console(message: ConsoleMessage) -> None:
            if message.type == "error" and not _HTTP_STATUS_REPORT.match(message.text):
                tab.errors.append(f"{who}: {message.text}")

        page.on("console", console)
        page.on("pageerror", lambda error: tab.errors.append(f"{who}: {error}"))
        self.opened.append(tab)
        return tab


@pytest.fixture
async def tabs(
    browser: Browser, system: System, request: pytest.FixtureRequest
) -> AsyncIterator[Tabs]:
    folder = ARTIFACTS / request.node.name
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.rglob("*.png"):
        old.unlink()
    opened = Tabs(browser, system, folder)
    yield opened
    errors = [error for tab in opened.opened for error in tab.errors]
    for tab in opened.opened:
        await tab.page.context.close()
    assert not errors, errors


async def register(tab: Tab, name: str) -> str:
    """A new customer, through the registration page; returns the email."""
    email = f"{name.lower()}-{uuid.uuid4().hex[:10]}@example.com"
    page = tab.page
    await tab.goto("/shop/register")
    await page.get_by_label("Name").fill(name)
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Create account").click()
    await expect(page.get_by_role("button", name=re.compile("Sign out"))).to_be_visible()
    return email


async def sign_in(tab: Tab, email: str, path: str = "/shop/login") -> None:
    page = tab.page
    await tab.goto(path)
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("button", name=re.compile("Sign out"))).to_be_visible()


ADDRESS = {
    "Full name": "Ada Lovelace",
    "Address": "12 St James's Square",
    "City": "London",
    "Postal code": "SW1Y 4JH",
    "Country (two letters)": "GB",
}


async def checkout(tab: Tab, card: str = "tok_visa", postal_code: str = "SW1Y 4JH") -> str:
    """From the cart through the checkout form; returns the order id on the confirmation."""
    page = tab.page
    await tab.goto("/shop/checkout")
    for label, value in {**ADDRESS, "Postal code": postal_code}.items():
        await page.get_by_label(label, exact=True).fill(value)
    await page.get_by_label("Card").select_option(card)
    await tab.shot("checkout")
    await page.get_by_role("button", name="Place order").click()
    await expect(page.get_by_role("heading", name="Thank you")).to_be_visible()
    match = re.search(r"/shop/orders/([^/]+)/confirmation", page.url)
    assert match, page.url
    return match.group(1)


@pytest.fixture(autouse=True, scope="session")
def _artifacts_folder() -> Iterator[None]:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    yield
