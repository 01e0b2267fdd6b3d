"""The shipping agent under Faust's test context, with the simulated carrier.

This agent does not report each record as done (it does not yield), so ``put`` returns when
the agent has taken the record, not when it has handled it: each test waits for the answer.
"""

from __future__ import annotations

import json

from streams.agents.shipping import shipments_table, shipping_agent
from streams.contract import (
    Address,
    OrderLine,
    PaymentRequested,
    ShipmentDelivered,
    ShipmentDispatched,
    ShipmentRequested,
    ShippingProblem,
    encode,
)
from streams.topics import DEAD_LETTERS, SHIPPING_EVENTS
from tests.unit.streams.agents.conftest import Sent, reason_of

LINES = (OrderLine(sku="MUG-01", quantity=1, unit_price_cents=1250),)


def shipment(postal_code: str, order_id: str = "ord-1") -> ShipmentRequested:
    address = Address(
        name="Ada", line1="1 Main St", city="Paris", postal_code=postal_code, country="FR"
    )
    return ShipmentRequested(order_id=order_id, address=address, lines=LINES, attempt=1)


async def test_a_shipment_is_dispatched_with_a_tracking_number_then_delivered(
    sent: Sent,
) -> None:
    async with shipping_agent.test_context() as agent:
        await agent.put(encode(shipment("75001")), key=b"ord-1")
        await sent.wait_for(SHIPPING_EVENTS, 2)

    dispatched, delivered = sent.events(SHIPPING_EVENTS)
    assert isinstance(dispatched, ShipmentDispatched) and dispatched.tracking_number
    assert isinstance(delivered, ShipmentDelivered)
    kept = shipments_table.get(b"ord-1/shipment/1")
    assert kept is not None and len(json.loads(kept)) == 2


async def test_a_carrier_that_cannot_collect_is_reported_as_a_problem(sent: Sent) -> None:
    async with shipping_agent.test_context() as agent:
        await agent.put(encode(shipment("00000")), key=b"ord-1")
        await sent.wait_for(SHIPPING_EVENTS, 1)

    [problem] = sent.events(SHIPPING_EVENTS)
    assert isinstance(problem, ShippingProblem) and problem.attempt == 1


async def test_a_redelivered_request_is_answered_from_the_table_with_the_same_events(
    sent: Sent,
) -> None:
    request = shipment("75001")
    async with shipping_agent.test_context() as agent:
        await agent.put(encode(request), key=b"ord-1")
        await sent.wait_for(SHIPPING_EVENTS, 2)
        await agent.put(encode(request), key=b"ord-1")
        await sent.wait_for(SHIPPING_EVENTS, 4)

    first, again = sent.events(SHIPPING_EVENTS)[:2], sent.events(SHIPPING_EVENTS)[2:]
    assert again == first


async def test_a_command_for_another_agent_is_dead_lettered(sent: Sent) -> None:
    stray = PaymentRequested(
        order_id="ord-1", amount_cents=1, currency="EUR", payment_token="tok_visa", attempt=1
    )
    async with shipping_agent.test_context() as agent:
        await agent.put(encode(stray), key=b"ord-1")
        await sent.wait_for(DEAD_LETTERS, 1)

    assert (
        reason_of(sent.dead_letters()[0]) == "the shipping agent does not consume PaymentRequested"
    )
    assert sent.events(SHIPPING_EVENTS) == []
