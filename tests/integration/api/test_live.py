"""The live stream (SSE) over a real gateway: fed from Kafka, resumed by Last-Event-ID from
the order's DynamoDB history, across a restart of the gateway too."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from shopstream.settings import Settings
from tests.integration.api.conftest import (
    Catalog,
    GatewayProcess,
    Person,
    eventually,
    order_body,
    place,
    start_gateway,
    stop_gateway,
)


@dataclass(frozen=True)
class Message:
    id: str | None
    event: str
    data: dict[str, Any]


async def messages(response: httpx.Response) -> AsyncIterator[Message]:
    """The SSE messages of a streamed response, as they arrive."""
    fields: dict[str, str] = {}
    async for line in response.aiter_lines():
        if line == "":
            if "data" in fields:
                yield Message(
                    fields.get("id"), fields.get("event", "message"), json.loads(fields["data"])
                )
            fields = {}
        elif not line.startswith(":"):
            name, _, value = line.partition(":")
            fields[name] = value.removeprefix(" ")


async def read_until(
    client: httpx.AsyncClient,
    path: str,
    person: Person,
    done: str | None,
    last_event_id: str | None = None,
    count: int | None = None,
) -> list[Message]:
    """Messages until one whose timeline text contains ``done``, or ``count`` of them."""
    headers = dict(person.headers)
    if last_event_id:
        headers["Last-Event-ID"] = last_event_id
    seen: list[Message] = []
    async with asyncio.timeout(60), client.stream("GET", path, headers=headers) as response:
        assert response.status_code == 200, await response.aread()
        assert response.headers["content-type"].startswith("text/event-stream")
        async for message in messages(response):
            seen.append(message)
            if (done is not None and done in message.data.get("text", "")) or len(seen) == count:
                return seen
    raise AssertionError(f"the stream ended before {done!r}: {seen}")


def assert_once_each(got: list[Message], expected: list[Message]) -> None:
    """The same events, each once (their order may differ: live arrival vs. history order)."""
    ids = [message.id for message in got]
    assert len(ids) == len(set(ids)), ids
    assert set(ids) == {message.id for message in expected}


async def placed_order(client: httpx.AsyncClient, person: Person, catalog: Catalog) -> str:
    mug = await catalog.add(price_cents=1250, stock=10)
    response = await place(client, person, order_body((mug, 1)))
    assert response.status_code == 202, response.text
    order_id: str = response.json()["order_id"]
    # Followed once the status projection knows whose it is (a moment after the 202).
    await eventually(
        lambda: client.get(f"/orders/{order_id}", headers=person.headers),
        lambda r: r.status_code == 200,
    )
    return order_id


async def test_an_orders_stream_shows_its_timeline_up_to_delivery(
    client: httpx.AsyncClient, customer: Person, catalog: Catalog
) -> None:
    order_id = await placed_order(client, customer, catalog)
    seen = await read_until(client, f"/live/orders/{order_id}", customer, "Status DELIVERED")
    types = [message.data["type"] for message in seen]
    assert types[0] == "OrderPlaced"
    assert {"StockReserved", "PaymentSucceeded", "ShipmentDispatched", "ShipmentDelivered"} <= set(
        types
    )
    assert len({message.id for message in seen}) == len(seen)  # each event once
    assert all(message.id == message.data["event_id"] for message in seen)
    delivered = next(m for m in seen if m.data["type"] == "ShipmentDelivered")
    assert delivered.data["toast"] == {
        "level": "success",
        "text": "Your order has been delivered.",
        "action": None,
    }


async def recorded_to_delivery(client: httpx.AsyncClient, person: Person, order_id: str) -> None:
    """Wait until the history holds the order's last event of every event topic it records.

    The command topics' events (payment and shipment requested) are not recorded: a stream
    has them from the gateway's recent events only, in their place in time."""
    last_of_each_topic = {
        "OrderPlaced",
        "StockReserved",
        "PaymentSucceeded",
        "ShipmentDelivered",
        "delivered",  # the last OrderStatusChanged
    }

    def complete(response: httpx.Response) -> bool:
        events = response.json()["events"] if response.status_code == 200 else []
        kinds = {e["type"] for e in events} | {e["summary"].get("to_status") for e in events}
        return last_of_each_topic <= kinds

    await eventually(
        lambda: client.get(f"/orders/{order_id}/events", headers=person.headers), complete
    )


def resumed_after(whole: list[Message], index: int) -> list[Message]:
    """What a stream resumed after ``whole[index]`` sends: what follows it, and what occurred
    within the resume overlap before it (stored out of order by a moment, perhaps)."""
    overlap = timedelta(seconds=Settings().live_resume_overlap_s)
    since = occurred(whole[index]) - overlap
    return [m for m in whole[:index] if occurred(m) >= since] + whole[index + 1 :]


def occurred(message: Message) -> datetime:
    return datetime.fromisoformat(message.data["occurred_at"])


async def test_a_stream_resumed_with_last_event_id_sends_what_came_after_each_once(
    client: httpx.AsyncClient, customer: Person, catalog: Catalog
) -> None:
    order_id = await placed_order(client, customer, catalog)
    await recorded_to_delivery(client, customer, order_id)
    path = f"/live/orders/{order_id}"
    whole = await read_until(client, path, customer, "Status DELIVERED")  # last: in time order
    expected = resumed_after(whole, 2)
    resumed = await read_until(
        client, path, customer, None, last_event_id=whole[2].id, count=len(expected)
    )
    assert_once_each(resumed, expected=expected)
    assert {m.id for m in whole[3:]} <= {m.id for m in resumed}


async def test_a_stream_resumes_on_a_restarted_gateway_without_losing_an_event(
    client: httpx.AsyncClient, customer: Person, catalog: Catalog, tmp_path: Path
) -> None:
    order_id = await placed_order(client, customer, catalog)
    await recorded_to_delivery(client, customer, order_id)
    path = f"/live/orders/{order_id}"
    whole = await read_until(client, path, customer, "Status DELIVERED")  # last: in time order
    own: GatewayProcess = await asyncio.to_thread(start_gateway, tmp_path / "first.log", {})
    try:
        async with httpx.AsyncClient(base_url=own.url, timeout=30) as first:
            before = await read_until(first, path, customer, None, count=3)
    finally:
        stop_gateway(own)
    expected = resumed_after(whole, 2)
    restarted = await asyncio.to_thread(start_gateway, tmp_path / "second.log", {})
    try:
        async with httpx.AsyncClient(base_url=restarted.url, timeout=30) as second:
            after = await read_until(
                second, path, customer, None, last_event_id=before[-1].id, count=len(expected)
            )
    finally:
        stop_gateway(restarted)
    assert [m.id for m in before] == [m.id for m in whole[:3]]
    assert_once_each(after, expected=expected)
    assert {m.id for m in before} | {m.id for m in after} == {m.id for m in whole}


async def test_notifications_start_with_a_bookmark_then_toast_a_declined_card_with_retry(
    client: httpx.AsyncClient, customer: Person, catalog: Catalog
) -> None:
    mug = await catalog.add(stock=10)
    headers = customer.headers
    async with (
        asyncio.timeout(60),
        client.stream("GET", "/live/notifications", headers=headers) as r,
    ):
        stream = messages(r)
        ready = await anext(stream)
        assert ready.event == "ready"
        assert ready.id is not None and ready.id.startswith("t:")
        placed = await place(client, customer, order_body((mug, 1), card="tok_chargeDeclined"))
        order_id = placed.json()["order_id"]
        notice = await anext(stream)
    assert notice.event == "notice"
    assert notice.data["order_id"] == order_id
    assert notice.data["toast"] == {
        "level": "error",
        "text": "Payment failed (the card was declined) — try another card.",
        "action": "retry-payment",
    }
    # A page opened next resumes from the bookmark and misses nothing in between.
    replayed = await read_until(
        client, "/live/notifications", customer, "Payment failed", last_event_id=ready.id
    )
    assert replayed[-1].id == notice.id


async def test_another_customers_order_cannot_be_followed(
    client: httpx.AsyncClient, customer: Person, other_customer: Person, catalog: Catalog
) -> None:
    order_id = await placed_order(client, customer, catalog)
    await read_until(client, f"/live/orders/{order_id}", customer, "Order placed")
    theirs = await client.get(f"/live/orders/{order_id}", headers=other_customer.headers)
    anonymous = await client.get(f"/live/orders/{order_id}")
    assert theirs.status_code == 404
    assert theirs.headers["content-type"] == "application/problem+json"
    assert anonymous.status_code == 401


@pytest.fixture(autouse=True)
def _needs_worker(worker: None) -> None:
    """Every test here follows orders through the saga."""
