"""The shipping side of the carrier link: what to do with a request, a reply and a silence.

One shipment row per order and attempt remembers what was asked and what was answered:

    ShipmentRequested      a new attempt: send the request to the carrier (after a backoff from
                           the second attempt on). A repeated one changes nothing: the row's
                           overdue timer asks again if the first send went unanswered.
    CarrierReplied         dispatched / problem / delivered become ShipmentDispatched /
                           ShippingProblem / ShipmentDelivered. Each outcome is reported once
                           per attempt: a duplicate reply (the carrier answering a repeated
                           request, or a redelivered message) is recorded and changes nothing.
    ShipmentReplyOverdue   the request went unanswered for ``reply_timeout``: send it again
                           (the carrier answers a repeated request the same way), up to
                           ``max_requests`` sends; then report a ShippingProblem, so the saga's
                           own retry (a new attempt) or escalation takes over.

The events reported have ids derived from the request's event id and the outcome, so even a
shipment row lost and rebuilt reports ids the saga already deduped.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal
from uuid import UUID

from pydantic import ConfigDict, NonNegativeInt, PositiveInt

from streams.contract import (
    CarrierOutcome,
    CarrierReplied,
    Id,
    Record,
    ShipmentDelivered,
    ShipmentDispatched,
    ShipmentReplyOverdue,
    ShipmentRequested,
    ShippingProblem,
    UtcDatetime,
    derive,
)

ShippingEvent = ShipmentDispatched | ShippingProblem | ShipmentDelivered


@dataclass(frozen=True, slots=True)
class LinkPolicy:
    """The link's knobs; the agent builds one from the settings."""

    reply_timeout: timedelta = timedelta(seconds=10)
    max_requests: int = 3
    retry_backoff: timedelta = timedelta(seconds=0.2)

    def __post_init__(self) -> None:
        if self.reply_timeout <= timedelta(0) or self.max_requests < 1:
            raise ValueError("reply_timeout must be positive and max_requests at least 1")

    def backoff(self, attempt: int) -> timedelta:
        """How long to wait before sending attempt ``attempt``: 0, then exponential."""
        return timedelta(0) if attempt <= 1 else self.retry_backoff * 2 ** (attempt - 2)


class Shipment(Record):
    """One attempt to ship an order, as the shipping agent's table stores it."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    order_id: Id
    attempt: PositiveInt
    request: ShipmentRequested
    requests_sent: NonNegativeInt = 0
    last_sent_at: UtcDatetime
    outcomes: frozenset[CarrierOutcome] = frozenset()
    gave_up: bool = False

    @property
    def awaiting_reply(self) -> bool:
        return not self.outcomes and not self.gave_up

    def overdue(self, now: datetime, policy: LinkPolicy) -> bool:
        return self.awaiting_reply and now - self.last_sent_at >= policy.reply_timeout


@dataclass(frozen=True, slots=True)
class Step:
    """What to store, whether to send the request (again), and what to report."""

    shipment: Shipment | None = None
    send: bool = False
    events: tuple[ShippingEvent, ...] = ()
    duplicate: bool = False
    refused: str | None = None


def row_key(order_id: str, attempt: int) -> str:
    return f"{order_id}/shipment/{attempt}"


def on_request(existing: Shipment | None, request: ShipmentRequested, now: datetime) -> Step:
    if existing is not None:
        return Step(duplicate=True)
    shipment = Shipment(
        order_id=request.order_id,
        attempt=request.attempt,
        request=request,
        requests_sent=1,
        last_sent_at=now,
    )
    return Step(shipment=shipment, send=True)


def on_reply(existing: Shipment | None, reply: CarrierReplied, now: datetime) -> Step:
    if existing is None:
        return Step(refused=f"a reply for attempt {reply.attempt}, which was never requested")
    if reply.outcome in existing.outcomes:
        return Step(duplicate=True)
    event = _reported(existing, reply)
    if event is None:
        return Step(refused=f"a {reply.outcome} reply without the fields it needs")
    shipment = existing.model_copy(update={"outcomes": existing.outcomes | {reply.outcome}})
    if reply.outcome == "delivered" and "dispatched" not in existing.outcomes:
        # The delivery report overtook the dispatch (replies redelivered after a restart come
        # back in any order): it is held and reported right after the dispatch, since the
        # saga, like the parcel, goes from shipped to delivered only.
        return Step(shipment=shipment)
    events = [_derived(existing, event, reply.outcome, now)]
    if reply.outcome == "dispatched" and "delivered" in existing.outcomes:
        delivered = ShipmentDelivered(order_id=existing.order_id)
        events.append(_derived(existing, delivered, "delivered", now))
    return Step(shipment=shipment, events=tuple(events))


def on_overdue(
    existing: Shipment | None, hint: ShipmentReplyOverdue, now: datetime, policy: LinkPolicy
) -> Step:
    # A hint is only a hint: the timer may have seen an older row than the one stored now.
    if existing is None or not existing.overdue(now, policy):
        return Step(duplicate=True)
    if existing.requests_sent >= policy.max_requests:
        reason = f"the carrier did not answer {existing.requests_sent} requests"
        problem = ShippingProblem(order_id=existing.order_id, reason=reason, attempt=hint.attempt)
        return Step(
            shipment=existing.model_copy(update={"gave_up": True}),
            events=(_derived(existing, problem, "unanswered", now),),
        )
    again = existing.model_copy(
        update={"requests_sent": existing.requests_sent + 1, "last_sent_at": now}
    )
    return Step(shipment=again, send=True)


def overdue_hint(shipment: Shipment) -> ShipmentReplyOverdue:
    return ShipmentReplyOverdue(
        order_id=shipment.order_id, attempt=shipment.attempt, trace_id=shipment.request.trace_id
    )


def _reported(shipment: Shipment, reply: CarrierReplied) -> ShippingEvent | None:
    match reply.outcome:
        case "dispatched" if reply.tracking_number is not None:
            return ShipmentDispatched(
                order_id=shipment.order_id,
                carrier=reply.carrier,
                tracking_number=reply.tracking_number,
            )
        case "problem":
            reason = reply.reason or f"{reply.carrier} reported a problem"
            return ShippingProblem(
                order_id=shipment.order_id, reason=reason, attempt=shipment.attempt
            )
        case "delivered":
            return ShipmentDelivered(order_id=shipment.order_id)
    return None


def _derived(
    shipment: Shipment,
    event: ShippingEvent,
    tag: CarrierOutcome | Literal["unanswered"],
    now: datetime,
) -> ShippingEvent:
    cause: UUID = shipment.request.event_id
    return derive(event, cause_id=cause, tag=tag, trace_id=shipment.request.trace_id, now=now)
