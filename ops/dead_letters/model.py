"""What every dead-letter topic or queue looks like to an operator."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Summary:
    name: str  # "<kind>/<topic or queue>", what the command line takes
    count: int
    oldest_age_s: float | None  # None: empty, or the broker does not say


@dataclass(frozen=True, slots=True)
class DeadLetter:
    id: str  # where it sits: a Kafka partition/offset, an SQS message id, an AMQP delivery tag
    reason: str
    source: str  # where it came from, as far as it is known
    body: bytes
    age_s: float | None

    def text(self) -> str:
        """The original bytes, decoded when they are text."""
        try:
            return self.body.decode("utf-8")
        except UnicodeDecodeError:
            return f"<{len(self.body)} bytes, not UTF-8> {self.body[:200]!r}"


class DeadLetterQueue(Protocol):
    name: str

    async def summary(self) -> Summary: ...

    async def peek(self, limit: int) -> list[DeadLetter]:
        """Up to ``limit`` dead letters, oldest first where the broker keeps an order; left
        where they are."""
        ...

    async def redrive(self) -> int:
        """Send every dead letter back to where it came from, then remove it; how many."""
        ...

    async def purge(self) -> int:
        """Remove every dead letter; how many (as counted just before)."""
        ...
