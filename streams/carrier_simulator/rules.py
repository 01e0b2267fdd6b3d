"""What the simulated carrier answers, deterministic by postal code so tests and demos can
steer it:

    ``00000``  every attempt is a problem (the order ends in SHIPPING_PROBLEM, escalated);
    ``00001``  the first attempt is a problem, the retry is dispatched;
    ``00002``  the first reply to each request is lost on the way (it is never sent): the
               shipping side must ask again, and the repeated request is answered;
    otherwise  dispatched with a tracking number, then delivered after the configured delay.

Answers are a function of the request, so a repeated request gets the same tracking number.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Final

from streams.adapters.carrier_messages import CarrierReply, ShipmentOrder

ALWAYS_FAILS: Final = "00000"
FAILS_FIRST: Final = "00001"
LOSES_FIRST_REPLY: Final = "00002"


@dataclass(frozen=True, slots=True)
class Answer:
    now: tuple[CarrierReply, ...] = ()
    later: CarrierReply | None = None  # after the delivery delay
    lost: bool = False  # the replies are dropped, as if the network ate them


def tracking_number(order: ShipmentOrder) -> str:
    digest = hashlib.sha256(f"{order.order_id}/{order.attempt}".encode()).hexdigest()
    return f"SP{int(digest[:12], 16) % 10**12:012d}"


def answer(order: ShipmentOrder, carrier: str, seen_before: bool) -> Answer:
    """``seen_before``: this exact request (order and attempt) came in earlier."""
    postal_code = order.address.postal_code
    if postal_code == LOSES_FIRST_REPLY and not seen_before:
        return Answer(lost=True)
    common = {"order_id": order.order_id, "attempt": order.attempt, "carrier": carrier}
    if postal_code == ALWAYS_FAILS or (postal_code == FAILS_FIRST and order.attempt == 1):
        reason = f"{carrier} could not collect the parcel (attempt {order.attempt})"
        return Answer(now=(CarrierReply(outcome="problem", reason=reason, **common),))
    dispatched = CarrierReply(
        outcome="dispatched", tracking_number=tracking_number(order), **common
    )
    return Answer(now=(dispatched,), later=CarrierReply(outcome="delivered", **common))
