"""The carrier: asked to ship an order's parcel, it answers dispatched or a problem.

``SimulatedCarrier`` stands in for a real carrier's API, deterministic by postal code so that
tests and demos can steer it:
    ``00000``  every attempt fails (the order ends in SHIPPING_PROBLEM, escalated);
    ``00001``  the first attempt fails, the retry is dispatched;
    otherwise  dispatched with a tracking number derived from the order, then delivered.
It reports delivery at once; a carrier on the AMQP link reports it when the parcel arrives.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Protocol

from streams.contract import (
    ShipmentDelivered,
    ShipmentDispatched,
    ShipmentRequested,
    ShippingProblem,
)

CarrierAnswer = ShipmentDispatched | ShipmentDelivered | ShippingProblem


class Carrier(Protocol):
    async def ship(self, request: ShipmentRequested) -> list[CarrierAnswer]:
        """What the carrier says about this attempt, in the order it says it."""
        ...


@dataclass(frozen=True)
class SimulatedCarrier:
    name: str = "SimPost"

    async def ship(self, request: ShipmentRequested) -> list[CarrierAnswer]:
        postal_code = request.address.postal_code
        if postal_code == "00000" or (postal_code == "00001" and request.attempt == 1):
            reason = f"{self.name} could not collect the parcel (attempt {request.attempt})"
            problem = ShippingProblem(
                order_id=request.order_id, reason=reason, attempt=request.attempt
            )
            return [problem]
        digest = hashlib.sha256(f"{request.order_id}/{request.attempt}".encode()).hexdigest()
        tracking = f"SP{int(digest[:12], 16) % 10**12:012d}"
        return [
            ShipmentDispatched(
                order_id=request.order_id, carrier=self.name, tracking_number=tracking
            ),
            ShipmentDelivered(order_id=request.order_id),
        ]
