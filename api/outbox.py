"""The transactional outbox: an event written in the same PostgreSQL transaction as the change
it describes, and the relay that publishes it to Kafka.

Why. A catalog row and the event announcing its change must never disagree. Publishing after
the commit loses the event when the process dies in between; publishing before it announces a
change that may still roll back. So the event is a row (``Outbox.add``), committed or rolled
back with the change, and ``Outbox.run`` sends committed rows (acks=all, idempotent producer)
and only then marks them sent.

Guarantees. At least once: a relay that dies after Kafka acknowledged a batch but before
marking it leaves those rows unsent, and they go out again with the same ``event_id`` (fixed
when the row was written), which consumers dedupe by. In order per key: one relay at a time
drains a deployment's rows (a transaction-scoped advisory lock, so every gateway replica may
run one), in ``seq`` order, and two writers of one product are serialised by its row lock.

Where it runs. In every gateway process that serves the products router (the one writer), as a
task of the app's lifespan: it needs no deployment of its own, reuses the process's pool and
producer, and wakes as soon as its own process commits a row. The poll interval only matters
for rows whose writer died before sending them.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Final

import asyncpg

from shopstream.logs import get_logger
from shopstream.metrics import OUTBOX_SENT
from shopstream.settings import Settings
from streams.contract import EventBase, encode
from streams.publisher import EventPublisher

log = get_logger(__name__)

# The advisory lock's first key: a namespace of ours, so the second (the deployment) cannot
# collide with anyone else's lock.
LOCK_NAMESPACE: Final = 0x0B0C5

_INSERT: Final = "INSERT INTO outbox (event_id, topic, key, payload) VALUES ($1, $2, $3, $4)"
_UNSENT: Final = """
SELECT seq, topic, key, payload FROM outbox
 WHERE sent_at IS NULL AND topic = ANY($1::text[])
 ORDER BY seq
 LIMIT $2
"""
_MARK_SENT: Final = "UPDATE outbox SET sent_at = now() WHERE seq = ANY($1::bigint[])"
# Sent rows are kept a while (what was announced, and when), then dropped.
_PRUNE: Final = """
DELETE FROM outbox
 WHERE topic = ANY($1::text[]) AND sent_at < now() - make_interval(secs => $2)
"""
_PRUNE_EVERY_S: Final = 3600.0


class Outbox:
    def __init__(self, pool: asyncpg.Pool, publisher: EventPublisher, settings: Settings) -> None:
        self.pool = pool
        self.publisher = publisher
        self.layout = publisher.layout
        # This deployment's topics: systems sharing a database (a test run beside a developer's)
        # each relay their own rows only.
        self.topics = sorted(spec.name for spec in self.layout.topics)
        self.deployment = f"outbox:{self.layout.prefix}"
        self.batch_size = settings.outbox_batch_size
        self.poll_interval_s = settings.outbox_poll_interval_s
        self.retention_s = settings.outbox_retention_s
        self._wake = asyncio.Event()

    async def add(self, connection: asyncpg.Connection, event: EventBase) -> None:
        """Write ``event`` in the caller's transaction; call ``wake`` once it is committed."""
        topic = self.layout.for_event(event).name
        await connection.execute(_INSERT, event.event_id, topic, event.key, encode(event))

    def wake(self) -> None:
        self._wake.set()

    async def relay_once(self) -> int:
        """Send one batch of unsent rows; return how many (0: none, or another relay's turn)."""
        async with self.pool.acquire() as connection, connection.transaction():
            ours = await connection.fetchval(
                "SELECT pg_try_advisory_xact_lock($1, hashtext($2))",
                LOCK_NAMESPACE,
                self.deployment,
            )
            if not ours:
                return 0
            rows = await connection.fetch(_UNSENT, self.topics, self.batch_size)
            if not rows:
                return 0
            await self.publisher.publish_encoded(
                (row["topic"], row["key"].encode(), bytes(row["payload"])) for row in rows
            )
            await connection.execute(_MARK_SENT, [row["seq"] for row in rows])
        OUTBOX_SENT.inc(len(rows))
        return len(rows)

    async def prune(self) -> int:
        """Drop this deployment's rows sent longer ago than the retention; return how many."""
        result: str = await self.pool.execute(_PRUNE, self.topics, self.retention_s)
        return int(result.split()[-1])  # "DELETE <count>"

    async def run(self) -> None:
        """Relay until cancelled; failures are logged and retried at the next wake or poll."""
        next_prune = 0.0
        while True:
            # Cleared before the batch: a wake arriving during it is kept for the next round.
            self._wake.clear()
            try:
                if time.monotonic() >= next_prune:
                    await self.prune()
                    next_prune = time.monotonic() + _PRUNE_EVERY_S
                sent = await self.relay_once()
            except Exception as error:  # the relay must outlive any one failure
                log.warning("outbox relay failed; retrying", error=repr(error))
                await asyncio.sleep(self.poll_interval_s)  # not at once: wakes would spin
                continue
            if sent == self.batch_size:
                continue  # a full batch: more may be waiting
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll_interval_s)
