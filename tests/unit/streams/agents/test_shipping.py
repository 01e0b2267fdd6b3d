"""The shipping agent under Faust's test context.

The carrier is at the other end of an AMQP link (tests/integration/saga/test_carrier_link.py
drives it through a real broker and the simulator); here the agent's sender is swapped for one
that keeps what it was asked to send, so each test sees the agent's decisions alone: when a
request goes out (again), which replies become which shipping events, what is refused.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from streams.adapters.carrier_messages import ShipmentOrder
from streams.agents import shipping
from streams.agents.shipping import shipments_table, shipping_agent
from streams.contract import (
    Address,
    CarrierOutcome,
    CarrierReplied,
    OrderLine,
    PaymentRequested,
    ShipmentDelivered,
    ShipmentDispatched,
    ShipmentReplyOverdue,
    ShipmentRequested,
    ShippingProblem,
)
from streams.domain.shipping import LinkPolicy
from streams.topics import SHIPPING_EVENTS
from tests.unit.streams.agents.conftest import Sent, put, reason_of

LINES = (OrderLine(sku="MUG-01", quantity=1, unit_price_cents=1250),)


class KeptRequests:
    """Stands in for the AMQP sender: what would have been published, in order."""

    def __init__(self) -> None:
        self.sent: list[tuple[ShipmentOrder, str]] = []

    async def send(self, body: bytes, correlation_id: str, trace_id: str) -> None:
        self.sent.append((ShipmentOrder.model_validate_json(body), correlation_id))


@pytest.fixture
def requests(monkeypatch: pytest.MonkeyPatch) -> KeptRequests:
    kept = KeptRequests()
    monkeypatch.setattr(shipping, "sender", kept)
    # Every hint counts as overdue: the tests decide when a silence has lasted long enough.
    monkeypatch.setattr(
        shipping, "policy", LinkPolicy(reply_timeout=timedelta(microseconds=1), max_requests=2)
    )
    return kept


def shipment(order_id: str = "ord-1") -> ShipmentRequested:
    address = Address(
        name="Ada", line1="1 Main St", city="Paris", postal_code="75001", country="FR"
    )
    return ShipmentRequested(order_id=order_id, address=address, lines=LINES, attempt=1)


def reply(outcome: CarrierOutcome, **fields: str) -> CarrierReplied:
    return CarrierReplied.model_validate(
        {"order_id": "ord-1", "attempt": 1, "outcome": outcome, "carrier": "SimPost", **fields}
    )


def stored() -> dict[str, object]:
    raw = shipments_table.get(b"ord-1/shipment/1")
    assert raw is not None
    row: dict[str, object] = json.loads(raw)
    return row


async def test_a_requested_shipment_is_sent_to_the_carrier_once_and_awaits_its_reply(
    sent: Sent, requests: KeptRequests
) -> None:
    async with shipping_agent.test_context() as agent:
        assert await put(agent, shipment()) == "applied"
        assert await put(agent, shipment()) == "duplicate"

    [(order, correlation)] = requests.sent
    assert order.order_id == "ord-1" and correlation.startswith("ord-1")
    assert stored()["requests_sent"] == 1
    assert sent.events(SHIPPING_EVENTS) == []


async def test_the_carriers_replies_become_dispatched_then_delivered(
    sent: Sent, requests: KeptRequests
) -> None:
    async with shipping_agent.test_context() as agent:
        await put(agent, shipment())
        await put(agent, reply("dispatched", tracking_number="SP-1"))
        await put(agent, reply("delivered"))

    dispatched, delivered = sent.events(SHIPPING_EVENTS)
    assert isinstance(dispatched, ShipmentDispatched) and dispatched.tracking_number == "SP-1"
    assert isinstance(delivered, ShipmentDelivered)
    assert set(stored()["outcomes"]) == {"dispatched", "delivered"}  # type: ignore[call-overload]


async def test_a_duplicate_reply_reports_nothing_twice(sent: Sent, requests: KeptRequests) -> None:
    async with shipping_agent.test_context() as agent:
        await put(agent, shipment())
        assert await put(agent, reply("problem", reason="no such street")) == "applied"
        assert await put(agent, reply("problem", reason="no such street")) == "duplicate"

    [problem] = sent.events(SHIPPING_EVENTS)
    assert isinstance(problem, ShippingProblem)
    assert (problem.attempt, problem.reason) == (1, "no such street")


async def test_an_unanswered_request_is_sent_again_then_reported_as_a_problem(
    sent: Sent, requests: KeptRequests
) -> None:
    overdue = ShipmentReplyOverdue(order_id="ord-1", attempt=1)
    async with shipping_agent.test_context() as agent:
        await put(agent, shipment())
        await put(agent, overdue)
        assert sent.events(SHIPPING_EVENTS) == []
        await put(agent, overdue)

    assert len(requests.sent) == 2  # the policy allows two sends
    [problem] = sent.events(SHIPPING_EVENTS)
    assert isinstance(problem, ShippingProblem)
    assert problem.reason == "the carrier did not answer 2 requests"


async def test_a_reply_to_a_request_never_made_is_dead_lettered(
    sent: Sent, requests: KeptRequests
) -> None:
    async with shipping_agent.test_context() as agent:
        assert await put(agent, reply("dispatched", tracking_number="SP-1")) == "dead_lettered"

    assert reason_of(sent.dead_letters()[0]) == ("a reply for attempt 1, which was never requested")
    assert sent.events(SHIPPING_EVENTS) == []


async def test_a_command_for_another_agent_is_dead_lettered(
    sent: Sent, requests: KeptRequests
) -> None:
    stray = PaymentRequested(
        order_id="ord-1", amount_cents=1, currency="EUR", payment_token="tok_visa", attempt=1
    )
    async with shipping_agent.test_context() as agent:
        assert await put(agent, stray) == "dead_lettered"

    assert (
        reason_of(sent.dead_letters()[0]) == "the shipping agent does not consume PaymentRequested"
    )
    assert requests.sent == []
