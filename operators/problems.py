"""Why a resource is not ready, in two kinds: a refusal that waits for a new spec, and a
transient failure that is retried with backoff. ``reason`` becomes the Ready condition's
reason (CamelCase, as Kubernetes conditions spell it) and ``message`` its message."""

from __future__ import annotations

from typing import ClassVar


class Problem(Exception):
    permanent: ClassVar[bool]

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


class Refused(Problem):
    """The spec is invalid, or asks for a change the backend cannot make: retrying cannot
    help until the spec changes, so the operator says why and stops trying."""

    permanent = True


class Unavailable(Problem):
    """Something the reconciliation needs is not there yet or not reachable (a broker, a
    Secret, a referenced queue): worth another try after a while."""

    permanent = False
