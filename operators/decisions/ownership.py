"""Whose is a backend resource that already exists? Ours if this object claimed it earlier
(``status.claimed``, written before creating), taken over if the spec says ``adopt``,
otherwise someone else's: refused, never silently taken."""

from __future__ import annotations

from enum import Enum

from operators.problems import Refused


class Ownership(Enum):
    CREATE = "create"  # absent: claim it, then create it
    OWNED = "owned"  # present, claimed by this object before
    ADOPT = "adopt"  # present, not ours, and the spec asks to take it over


def ownership(what: str, exists: bool, claimed: bool, adopt: bool) -> Ownership:
    if not exists:
        return Ownership.CREATE
    if claimed:
        return Ownership.OWNED
    if adopt:
        return Ownership.ADOPT
    raise Refused(
        "AlreadyExists",
        f"{what} already exists and is not managed by this resource; "
        "set spec.adopt: true to take it over",
    )
