"""The carrier link's wire contract: the JSON of a shipment request and of a carrier's reply.

Both sides use these models: the shipping side writes requests and reads replies, the carrier
simulator reads requests and writes replies. Requests are strict (a bad one is our bug); replies
ignore unknown fields, so a carrier can add some without breaking us.
"""

from __future__ import annotations

from typing import Final, Self
from uuid import UUID, uuid5

from pydantic import BaseModel, ConfigDict, PositiveInt

from streams.contract import (
    Address,
    CarrierOutcome,
    CarrierReplied,
    Id,
    Line,
    Lines,
    ShipmentRequested,
    Text,
)

# Namespace of the ids of the commands made from replies.
_REPLIES: Final = UUID("0d6b7b8e-3c8f-4f43-a5a8-5f1c9a4e7d12")


class ShipmentOrder(BaseModel):
    """Ship these lines to this address: attempt ``attempt`` of the order's shipment."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    order_id: Id
    attempt: PositiveInt
    address: Address
    lines: Lines

    @classmethod
    def of(cls, request: ShipmentRequested) -> Self:
        return cls(
            order_id=request.order_id,
            attempt=request.attempt,
            address=request.address,
            lines=request.lines,
        )


class CarrierReply(BaseModel):
    """The carrier's answer about one attempt: dispatched (with a tracking number), a problem
    (with a reason), or delivered (later, when the parcel arrives)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    order_id: Id
    attempt: PositiveInt
    outcome: CarrierOutcome
    carrier: Line
    tracking_number: Line | None = None
    reason: Text | None = None

    def as_command(self, trace_id: str | None) -> CarrierReplied:
        """The reply as the shipping agent's command. Its id is a function of the reply, so a
        reply delivered twice is one command to every consumer that dedupes by id."""
        envelope: dict[str, object] = {
            "event_id": uuid5(_REPLIES, f"{self.order_id}/{self.attempt}/{self.outcome}")
        }
        if trace_id:
            envelope["trace_id"] = trace_id
        return CarrierReplied.model_validate(self.model_dump() | envelope)
