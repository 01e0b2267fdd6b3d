"""The carrier round trip over real RabbitMQ: the worker's shipping agent publishes requests,
the carrier simulator (a process of its own) answers on the reply queue, and the replies come
back as the contract's shipping events."""

from __future__ import annotations

import time
import uuid
from datetime import timedelta
from typing import Any

import pytest
from aiokafka import TopicPartition
from kombu.entity import Exchange
from kombu.messaging import Producer

from streams.adapters import carrier_link
from streams.adapters.carrier_messages import CarrierReply, ShipmentOrder
from streams.carrier_simulator.rules import tracking_number
from streams.carrier_topology import (
    DEAD_LETTER_REASON_HEADER,
    DEAD_LETTER_SOURCE_HEADER,
    correlation_id,
)
from streams.contract import (
    CarrierReplied,
    ShipmentDelivered,
    ShipmentDispatched,
    ShipmentReplyOverdue,
    ShipmentRequested,
    ShippingProblem,
)
from streams.domain.shipping import Shipment, row_key
from streams.publisher import layout
from streams.topics import SHIPPING_COMMANDS
from tests.integration.saga.conftest import Saga


def _shipment(saga: Saga, order_id: str, attempt: int) -> Shipment:
    raw = saga.observer.changelogs["shipments"][row_key(order_id, attempt).encode()]
    return Shipment.model_validate_json(raw)


async def test_a_shipment_is_dispatched_with_its_tracking_number_and_delivered_later(
    saga: Saga, sku: str
) -> None:
    await saga.stock_up(sku, 1)
    order = await saga.place([(sku, 1)])
    await saga.reaches(order.order_id, "delivered")
    [request] = saga.observer.events_of(order.order_id, ShipmentRequested)
    [dispatched] = saga.observer.events_of(order.order_id, ShipmentDispatched)
    [delivered] = saga.observer.events_of(order.order_id, ShipmentDelivered)
    assert dispatched.tracking_number == tracking_number(ShipmentOrder.of(request))  # type: ignore[arg-type,attr-defined]
    # The carrier reports delivery after its delay (0.3 s here) from when it was asked, not
    # with the dispatch.
    asked = _shipment(saga, order.order_id, 1).last_sent_at
    assert delivered.occurred_at - asked >= timedelta(seconds=0.3)
    assert delivered.occurred_at > dispatched.occurred_at


async def test_a_problem_reply_is_reported_and_the_next_attempt_dispatched(
    saga: Saga, sku: str
) -> None:
    await saga.stock_up(sku, 1)
    order = await saga.place([(sku, 1)], postal_code="00001")  # the first attempt fails
    await saga.reaches(order.order_id, "delivered")
    [problem] = saga.observer.events_of(order.order_id, ShippingProblem)
    assert problem.attempt == 1  # type: ignore[attr-defined]
    assert "could not collect" in problem.reason  # type: ignore[attr-defined]
    assert len(saga.observer.events_of(order.order_id, ShipmentDispatched)) == 1


async def test_a_lost_reply_is_asked_for_again_and_answered_once(saga: Saga, sku: str) -> None:
    await saga.stock_up(sku, 1)
    order = await saga.place([(sku, 1)], postal_code="00002")  # the first reply is lost
    await saga.reaches(order.order_id, "delivered")
    assert saga.observer.events_of(order.order_id, ShipmentReplyOverdue)
    assert _shipment(saga, order.order_id, 1).requests_sent == 2
    assert len(saga.observer.events_of(order.order_id, ShipmentDispatched)) == 1
    assert saga.observer.events_of(order.order_id, ShippingProblem) == []


async def test_a_duplicate_reply_changes_nothing(saga: Saga, sku: str) -> None:
    await saga.stock_up(sku, 1)
    order = await saga.place([(sku, 1)])
    await saga.reaches(order.order_id, "delivered")
    [dispatched] = saga.observer.events_of(order.order_id, ShipmentDispatched)
    # The row is stored after the events it reports are acknowledged: its changelog may trail.
    await saga.observer.until(
        lambda: _shipment(saga, order.order_id, 1).outcomes == {"dispatched", "delivered"},
        what="the shipment row records both replies",
    )
    shipment_row = _shipment(saga, order.order_id, 1)

    # The carrier says it again (a redelivery, or a carrier that repeats itself).
    again = CarrierReply(
        order_id=order.order_id,
        attempt=1,
        outcome="dispatched",
        carrier=dispatched.carrier,  # type: ignore[attr-defined]
        tracking_number=dispatched.tracking_number,  # type: ignore[attr-defined]
    )
    names = carrier_link.topology(saga.settings)
    with carrier_link.connect(saga.settings) as connection:
        carrier_link.publish(
            Producer(connection.default_channel, Exchange("")),
            again.model_dump_json().encode(),
            names.reply_queue,
            correlation_id=correlation_id(order.order_id, 1),
        )
    commands = layout(saga.settings).spec(SHIPPING_COMMANDS).name

    def replies() -> list[CarrierReplied]:
        found = saga.observer.events_of(order.order_id, CarrierReplied)
        return [r for r in found if isinstance(r, CarrierReplied) and r.outcome == "dispatched"]

    await saga.observer.until(lambda: len(replies()) == 2, what="the duplicate reply relayed")
    [first, second] = replies()
    assert first.event_id == second.event_id  # one reply, one id: dedupe works across consumers
    [last] = [
        seen
        for seen in saga.observer.seen
        if seen.topic == commands and seen.key == order.order_id.encode()
    ][-1:]
    await saga.committed_offsets_reach({TopicPartition(commands, last.partition): last.offset + 1})
    assert len(saga.observer.events_of(order.order_id, ShipmentDispatched)) == 1
    assert _shipment(saga, order.order_id, 1) == shipment_row


async def test_a_reply_that_is_no_reply_goes_to_the_dead_letter_queue_with_its_reason(
    saga: Saga,
) -> None:
    names = carrier_link.topology(saga.settings)
    with carrier_link.connect(saga.settings) as connection:
        producer = Producer(connection.default_channel, Exchange(""))
        carrier_link.publish(producer, b'{"parcel": "?"}', names.reply_queue, correlation_id="x/1")
        [dead_letters] = [
            q for q in carrier_link.queues(names) if q.name == names.dead_letter_queue
        ]
        queue = connection.SimpleQueue(dead_letters)
        try:
            message = queue.get(timeout=30)
            assert carrier_link.body_of(message) == b'{"parcel": "?"}'
            assert "not a carrier reply" in message.headers[DEAD_LETTER_REASON_HEADER]
            message.ack()
        finally:
            queue.close()


def _dead_lettered(saga: Saga, body: bytes, timeout_s: float = 30) -> dict[str, Any]:
    """The headers of the message with ``body`` on the link's dead-letter queue (others met
    are taken too). Polled with basic.get: the message is read as bytes, never decoded."""
    names = carrier_link.topology(saga.settings)
    with carrier_link.connect(saga.settings) as connection:
        channel = connection.default_channel
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            message = channel.basic_get(names.dead_letter_queue)
            if message is None:
                time.sleep(0.2)
                continue
            channel.basic_ack(message.delivery_tag)
            if carrier_link.body_of(message) == body:
                return dict(message.headers)
    raise AssertionError(f"not on the dead-letter queue within {timeout_s:.0f}s: {body!r}")


def _reply_queue_depth(saga: Saga) -> int:
    names = carrier_link.topology(saga.settings)
    with carrier_link.connect(saga.settings) as connection:
        [reply_queue] = [q for q in carrier_link.queues(names) if q.name == names.reply_queue]
        _, depth, _ = reply_queue(connection.default_channel).queue_declare(passive=True)
        return int(depth)


@pytest.mark.parametrize(
    ("trace_id", "why"),
    [("not-a-trace-id", "String should match pattern"), (42, "Input should be a valid string")],
    ids=["not-hex", "not-text"],
)
async def test_a_reply_with_a_malformed_trace_id_header_is_dead_lettered_not_requeued(
    saga: Saga, trace_id: object, why: str
) -> None:
    order_id = f"ord-trace-{uuid.uuid4().hex[:8]}"
    reply = CarrierReply(
        order_id=order_id, attempt=1, outcome="dispatched", carrier="SimPost", tracking_number="T1"
    )
    body = reply.model_dump_json().encode()
    names = carrier_link.topology(saga.settings)
    with carrier_link.connect(saga.settings) as connection:
        carrier_link.publish(
            Producer(connection.default_channel, Exchange("")),
            body,
            names.reply_queue,
            correlation_id=correlation_id(order_id, 1),
            headers={"trace_id": trace_id},
        )
    headers = _dead_lettered(saga, body)
    reason = headers[DEAD_LETTER_REASON_HEADER]
    assert reason.startswith("a carrier reply with a malformed trace_id header: "), reason
    assert why in reason, reason
    assert headers[DEAD_LETTER_SOURCE_HEADER] == names.reply_queue
    assert headers["trace_id"] == trace_id  # the message as it came
    assert _reply_queue_depth(saga) == 0  # taken off the reply queue, not put back
    assert saga.observer.events_of(order_id, CarrierReplied) == []


async def test_a_reply_whose_body_is_not_utf8_is_dead_lettered_not_requeued(saga: Saga) -> None:
    body = b'{"order_id": "ord-\xff", "attempt": 1}'
    names = carrier_link.topology(saga.settings)
    with carrier_link.connect(saga.settings) as connection:
        carrier_link.publish(
            Producer(connection.default_channel, Exchange("")),
            body,
            names.reply_queue,
            correlation_id="ord-x/1",
        )
    headers = _dead_lettered(saga, body)
    assert headers[DEAD_LETTER_REASON_HEADER].startswith("not a carrier reply: ")
    assert _reply_queue_depth(saga) == 0
