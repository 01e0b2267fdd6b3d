from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from streams.contract import (
    Address,
    CarrierOutcome,
    CarrierReplied,
    OrderLine,
    ShipmentDelivered,
    ShipmentDispatched,
    ShipmentReplyOverdue,
    ShipmentRequested,
    ShippingProblem,
)
from streams.domain.shipping import LinkPolicy, Shipment, on_overdue, on_reply, on_request

T0 = datetime(2025, 3, 1, 12, tzinfo=UTC)
POLICY = LinkPolicy(reply_timeout=timedelta(seconds=10), max_requests=3)
REQUEST = ShipmentRequested(
    order_id="ord-1",
    address=Address(
        name="Ada", line1="1 Main St", city="Berlin", postal_code="10115", country="DE"
    ),
    lines=(OrderLine(sku="MUG-01", quantity=1, unit_price_cents=100),),
)


def _sent() -> Shipment:
    step = on_request(None, REQUEST, T0)
    assert step.shipment is not None
    return step.shipment


def _reply(outcome: CarrierOutcome, **fields: str) -> CarrierReplied:
    return CarrierReplied(order_id="ord-1", attempt=1, outcome=outcome, carrier="SimPost", **fields)


def test_a_new_request_is_sent_and_recorded_as_awaiting_a_reply() -> None:
    step = on_request(None, REQUEST, T0)
    assert step.send and step.shipment is not None and step.events == ()
    assert step.shipment.requests_sent == 1 and step.shipment.awaiting_reply


def test_a_repeated_request_is_not_sent_again() -> None:
    step = on_request(_sent(), REQUEST, T0 + timedelta(seconds=1))
    assert step.duplicate and not step.send and step.shipment is None


@pytest.mark.parametrize(
    ("reply", "reported"),
    [
        (_reply("dispatched", tracking_number="SP1"), ShipmentDispatched),
        (_reply("problem", reason="no van"), ShippingProblem),
    ],
)
def test_each_reply_becomes_its_shipping_event(reply: CarrierReplied, reported: type) -> None:
    step = on_reply(_sent(), reply, T0)
    [event] = step.events
    assert isinstance(event, reported) and event.order_id == "ord-1"
    assert step.shipment is not None and not step.shipment.awaiting_reply


def test_a_delivery_after_the_dispatch_is_reported() -> None:
    dispatched = on_reply(_sent(), _reply("dispatched", tracking_number="SP1"), T0)
    assert dispatched.shipment is not None
    [event] = on_reply(dispatched.shipment, _reply("delivered"), T0).events
    assert isinstance(event, ShipmentDelivered)


def test_a_delivery_that_overtakes_the_dispatch_is_held_and_reported_right_after_it() -> None:
    early = on_reply(_sent(), _reply("delivered"), T0)
    assert early.events == () and early.shipment is not None
    assert not early.shipment.awaiting_reply
    late = on_reply(early.shipment, _reply("dispatched", tracking_number="SP1"), T0)
    dispatched, delivered = late.events
    assert isinstance(dispatched, ShipmentDispatched) and isinstance(delivered, ShipmentDelivered)
    after_dispatch = on_reply(_sent(), _reply("dispatched", tracking_number="SP1"), T0)
    assert after_dispatch.shipment is not None
    in_order = on_reply(after_dispatch.shipment, _reply("delivered"), T0)
    assert delivered.event_id == in_order.events[0].event_id  # the same id either way


def test_a_duplicate_reply_reports_nothing() -> None:
    first = on_reply(_sent(), _reply("dispatched", tracking_number="SP1"), T0)
    assert first.shipment is not None
    again = on_reply(first.shipment, _reply("dispatched", tracking_number="SP1"), T0)
    assert again.duplicate and again.events == () and again.shipment is None


def test_reported_ids_follow_from_the_request_so_a_rebuilt_row_reports_the_same_ids() -> None:
    reply = _reply("dispatched", tracking_number="SP1")
    one = on_reply(_sent(), reply, T0)
    other = on_reply(_sent(), reply, T0 + timedelta(minutes=5))
    assert one.events[0].event_id == other.events[0].event_id


def test_a_reply_for_an_attempt_never_requested_is_refused() -> None:
    step = on_reply(None, _reply("delivered"), T0)
    assert step.refused is not None and "never requested" in step.refused


def test_a_dispatched_reply_without_tracking_number_is_refused() -> None:
    assert on_reply(_sent(), _reply("dispatched"), T0).refused is not None


def test_an_overdue_request_is_sent_again() -> None:
    hint = ShipmentReplyOverdue(order_id="ord-1", attempt=1)
    step = on_overdue(_sent(), hint, T0 + timedelta(seconds=10), POLICY)
    assert step.send and step.shipment is not None and step.shipment.requests_sent == 2


def test_a_hint_before_the_timeout_or_after_a_reply_changes_nothing() -> None:
    hint = ShipmentReplyOverdue(order_id="ord-1", attempt=1)
    assert on_overdue(_sent(), hint, T0 + timedelta(seconds=9), POLICY).duplicate
    answered = on_reply(_sent(), _reply("delivered"), T0).shipment
    assert on_overdue(answered, hint, T0 + timedelta(hours=1), POLICY).duplicate


def test_a_request_unanswered_after_the_last_send_is_reported_as_a_problem() -> None:
    hint = ShipmentReplyOverdue(order_id="ord-1", attempt=1)
    shipment = _sent().model_copy(update={"requests_sent": 3})
    step = on_overdue(shipment, hint, T0 + timedelta(seconds=10), POLICY)
    [problem] = step.events
    assert isinstance(problem, ShippingProblem) and "did not answer 3" in problem.reason
    assert not step.send and step.shipment is not None and step.shipment.gave_up


def test_backoff_starts_with_the_second_attempt_and_doubles() -> None:
    policy = LinkPolicy(retry_backoff=timedelta(seconds=1))
    assert [policy.backoff(n).total_seconds() for n in (1, 2, 3, 4)] == [0, 1, 2, 4]
