"""``status.conditions`` as Kubernetes defines them: one entry per type, upserted by type, with
``lastTransitionTime`` moving only when the status changes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

ConditionStatus = Literal["True", "False", "Unknown"]

READY = "Ready"


@dataclass(frozen=True, slots=True)
class Condition:
    type: str
    status: ConditionStatus
    reason: str
    message: str
    observed_generation: int


def timestamp(moment: datetime) -> str:
    """RFC 3339 in UTC with whole seconds, the form the API server stores."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def upsert(
    conditions: Sequence[Mapping[str, Any]], new: Condition, now: datetime
) -> list[dict[str, Any]]:
    """The conditions with ``new`` in place of any of its type, others kept in their order."""
    previous = next((c for c in conditions if c.get("type") == new.type), None)
    transition = (
        str(previous["lastTransitionTime"])
        if previous is not None
        and previous.get("status") == new.status
        and previous.get("lastTransitionTime")
        else timestamp(now)
    )
    entry = {
        "type": new.type,
        "status": new.status,
        "reason": new.reason,
        "message": new.message,
        "lastTransitionTime": transition,
        "observedGeneration": new.observed_generation,
    }
    kept = [dict(c) for c in conditions if c.get("type") != new.type]
    if previous is None:
        return [*kept, entry]
    index = next(i for i, c in enumerate(conditions) if c.get("type") == new.type)
    return [*kept[:index], entry, *kept[index:]]


def find(conditions: Sequence[Mapping[str, Any]], type_: str) -> Mapping[str, Any] | None:
    return next((c for c in conditions if c.get("type") == type_), None)
