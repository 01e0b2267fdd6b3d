"""Changing the shipping address, end to end: a gateway and a stream worker of this code base
(with topics of their own) over the real Kafka, PostgreSQL and moto's DynamoDB.

The simulated carrier fails every attempt for postal code 00000, so an order placed with it
is delivered only if the saga really ships to the address it was changed to.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from shopstream.settings import Settings
from streams.contract import Address, ShipmentRequested, ShippingAddressChanged, encode
from streams.topics import DEAD_LETTER_REASON_HEADER, DEAD_LETTERS
from tests.integration.api.conftest import (
    ADDRESS,
    Catalog,
    GatewayProcess,
    Person,
    eventually,
    order_in,
    place,
    register,
    sign_in,
    start_gateway,
    stop_gateway,
)
from tests.integration.saga.conftest import Saga, running_saga

UNDELIVERABLE = {**ADDRESS, "postal_code": "00000"}
NEW_ADDRESS = {**ADDRESS, "line1": "2 New Street", "postal_code": "SW1Y 5AA"}


@pytest.fixture(scope="module")
async def saga(
    stack_settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Saga]:
    async with running_saga(stack_settings, tmp_path_factory.mktemp("address")) as running:
        yield running


@pytest.fixture(scope="module")
def own_gateway(saga: Saga, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    started = start_gateway(
        tmp_path_factory.mktemp("address-gateway") / "gateway.log",
        {
            "SHOPSTREAM_TOPIC_PREFIX": saga.settings.topic_prefix,
        },
    )
    try:
        yield started
    finally:
        stop_gateway(started)


@pytest.fixture(scope="module")
async def own_client(own_gateway: GatewayProcess) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=own_gateway.url, timeout=30) as opened:
        yield opened


@pytest.fixture
async def shopper(own_client: httpx.AsyncClient) -> Person:
    return await register(own_client, "Carol")


@pytest.fixture
async def shop(own_client: httpx.AsyncClient, admin: Person) -> Catalog:
    return Catalog(own_client, await sign_in(own_client, admin.email))


def _order(sku: str, address: dict[str, Any], card: str) -> dict[str, Any]:
    return {
        "lines": [{"sku": sku, "quantity": 1}],
        "shipping_address": address,
        "payment_token": card,
    }


async def test_an_address_changed_before_payment_is_where_the_parcel_goes(
    own_client: httpx.AsyncClient, shopper: Person, shop: Catalog, saga: Saga
) -> None:
    sku = await shop.add(stock=3)
    placed = await place(own_client, shopper, _order(sku, UNDELIVERABLE, "tok_chargeDeclined"))
    order_id = placed.json()["order_id"]
    await order_in(own_client, shopper, order_id, "payment_failed")

    change = await own_client.patch(
        f"/orders/{order_id}", json={"shipping_address": NEW_ADDRESS}, headers=shopper.headers
    )
    assert change.status_code == 202, change.text
    await eventually(
        lambda: own_client.get(f"/orders/{order_id}", headers=shopper.headers),
        lambda r: r.json()["shipping_address"]["postal_code"] == NEW_ADDRESS["postal_code"],
    )
    retry = await own_client.post(
        f"/orders/{order_id}/payment", json={"payment_token": "tok_visa"}, headers=shopper.headers
    )
    assert retry.status_code == 202, retry.text

    # With the old address (postal code 00000) the carrier would never take it.
    await order_in(own_client, shopper, order_id, "delivered")
    shipments = saga.observer.events_of(order_id, ShipmentRequested)
    assert shipments
    assert {s.address for s in shipments if isinstance(s, ShipmentRequested)} == {
        Address.model_validate(NEW_ADDRESS)
    }
    timeline = await own_client.get(f"/orders/{order_id}/events", headers=shopper.headers)
    [changed] = [e for e in timeline.json()["events"] if e["type"] == "ShippingAddressChanged"]
    assert changed["summary"]["shipping_address.postal_code"] == NEW_ADDRESS["postal_code"]


async def test_an_address_change_after_shipment_is_refused_and_changes_nothing(
    own_client: httpx.AsyncClient, shopper: Person, shop: Catalog, saga: Saga
) -> None:
    sku = await shop.add(stock=3)
    placed = await place(own_client, shopper, _order(sku, ADDRESS, "tok_visa"))
    order_id = placed.json()["order_id"]
    delivered = await order_in(own_client, shopper, order_id, "delivered")

    early = await own_client.patch(
        f"/orders/{order_id}", json={"shipping_address": NEW_ADDRESS}, headers=shopper.headers
    )
    assert early.status_code == 409
    assert "left the warehouse" in early.json()["detail"]

    # The race the gateway cannot see (its read model trailing the saga): the saga refuses it.
    late = ShippingAddressChanged(
        order_id=order_id, shipping_address=Address.model_validate(NEW_ADDRESS)
    )
    await saga.publish(late)
    dead_letters = saga.settings.topic_prefix + DEAD_LETTERS.name

    def refused() -> list[tuple[str, bytes | None]]:
        return [
            (dict(seen.headers)[DEAD_LETTER_REASON_HEADER].decode(), seen.value)
            for seen in saga.observer.seen
            if seen.topic == dead_letters and seen.key == order_id.encode()
        ]

    await saga.observer.until(lambda: bool(refused()), what="the late change dead-lettered")
    [(reason, value)] = refused()
    assert "left the warehouse" in reason
    assert value == encode(late)  # the record itself, unchanged
    after = await own_client.get(f"/orders/{order_id}", headers=shopper.headers)
    assert after.json()["shipping_address"] == delivered["shipping_address"]
    assert after.json()["updated_at"] == delivered["updated_at"]
    assert saga.observer.status(order_id) == "delivered"
