"""Idempotency keys (the ``Idempotency-Key`` header of ``POST /orders``) in PostgreSQL.

One statement reads the catalog prices of the order's SKUs and claims the key with them
(``idempotency_keys``, gateway migration 106): the round trip an order needs anyway, so an
idempotent order costs no more calls than one that is not. What the row keeps is what the
answer is a pure function of, besides the request itself: the order's id, its event's envelope
(``event_id``, ``occurred_at``, ``trace_id``) and the prices the first request read. The body of
the 202 and the ``OrderPlaced`` to publish are rebuilt from that row and the request, which the
fingerprint proves to be the same one, by ``api.services.orders``: byte for byte the first
answer, with the same ``event_id``. Whoever answers a key, the first request or any retry,
publishes that event before answering; every consumer dedupes on ``event_id``, and so:

- same key, same body: the same response, replayed, and never a second order, however many
  duplicates arrive at once (the primary key lets exactly one of them store its order; the
  others wait for its row and get it back from the same statement);
- a crash between the claim and the publish loses nothing: the client's retry publishes;
- no answer is given before its event is acknowledged by Kafka, retry or not;
- same key, another body: 422, nothing published.

Keys belong to a caller (``owner``): two customers may pick the same key. The request is
compared by an HMAC of its canonical JSON, which keeps what it contained (a card number, say)
out of the table; the payment token is never stored and comes back from the identical request.
A key lives ``idempotency_ttl_s`` (24 h); an expired key a sweep has not removed yet counts as
absent and is taken over by the next claim. ``sweep`` removes them in small batches; every
orders gateway runs it now and then (``idempotency_sweep_interval_s``).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final
from uuid import UUID

import asyncpg

from api.problem_types import ProblemType
from api.problems import ApiError
from shopstream.logs import get_logger
from shopstream.settings import Settings

log = get_logger(__name__)

_KEY_LABEL: Final = b"shopstream idempotency fingerprint v1"


@dataclass(frozen=True, slots=True)
class Envelope:
    """The identity of an order and of its OrderPlaced, chosen before the claim."""

    order_id: str
    event_id: UUID
    occurred_at: datetime
    trace_id: str


@dataclass(frozen=True, slots=True)
class UnitPrice:
    price_cents: int
    currency: str


@dataclass(frozen=True, slots=True)
class Claim:
    """What the key holds (``fresh``: claimed by this request) and the catalog as read now."""

    envelope: Envelope
    prices: dict[str, UnitPrice]
    fresh: bool


@dataclass(frozen=True, slots=True)
class NotSellable:
    """No key was claimed: what the catalog has of the order's SKUs, and in which currencies."""

    on_sale: set[str]
    currencies: list[str]


class KeyReused(ApiError):
    def __init__(self) -> None:
        super().__init__(
            ProblemType.IDEMPOTENCY_KEY_REUSED,
            "This Idempotency-Key was used with a different request body; use a new key for a "
            "new request.",
        )


# $1 owner, $2 key, $3 fingerprint, $4 the SKUs (distinct), $5..$8 the envelope, $9 ttl (s).
# ``priced`` is the catalog read; a key is claimed only for an order the catalog can price (every
# SKU on sale, one currency), so a refused order leaves its key free for a corrected retry.
# ON CONFLICT DO UPDATE, not DO NOTHING: the row of a concurrent claim committed after this
# statement began is invisible to its snapshot but is locked, waited for and returned by the
# update. The update keeps the stored row unless it has expired, in which case it is replaced.
_CLAIM: Final = """
WITH priced AS (
    SELECT coalesce(array_agg(sku ORDER BY sku), '{}') AS skus,
           coalesce(array_agg(price_cents ORDER BY sku), '{}') AS price_cents,
           coalesce(array_agg(DISTINCT currency::text), '{}') AS currencies
      FROM products
     WHERE sku = ANY($4::text[]) AND deleted_at IS NULL
),
claimed AS (
    INSERT INTO idempotency_keys AS k (owner, key, fingerprint, order_id, event_id,
                                       occurred_at, trace_id, skus, price_cents, currency,
                                       expires_at)
    SELECT $1, $2, $3, $5, $6, $7, $8, skus, price_cents, currencies[1],
           now() + make_interval(secs => $9)
      FROM priced
     WHERE cardinality(skus) = cardinality($4::text[]) AND cardinality(currencies) = 1
    ON CONFLICT (owner, key) DO UPDATE SET
        (fingerprint, order_id, event_id, occurred_at, trace_id, skus, price_cents, currency,
         created_at, expires_at) = (
            SELECT k.fingerprint, k.order_id, k.event_id, k.occurred_at, k.trace_id, k.skus,
                   k.price_cents, k.currency, k.created_at, k.expires_at
             WHERE k.expires_at > now()
            UNION ALL
            SELECT excluded.fingerprint, excluded.order_id, excluded.event_id,
                   excluded.occurred_at, excluded.trace_id, excluded.skus,
                   excluded.price_cents, excluded.currency, now(), excluded.expires_at
             WHERE k.expires_at <= now())
    RETURNING fingerprint, order_id, event_id, occurred_at, trace_id, skus, price_cents, currency
),
earlier AS (
    -- A key claimed by a request that ended before this one began, read when the catalog can
    -- no longer price the order (a product withdrawn since): a retry still gets its answer.
    SELECT fingerprint, order_id, event_id, occurred_at, trace_id, skus, price_cents, currency
      FROM idempotency_keys
     WHERE owner = $1 AND key = $2 AND expires_at > now() AND NOT EXISTS (SELECT FROM claimed)
)
SELECT priced.skus AS catalog_skus, priced.price_cents AS catalog_price_cents,
       priced.currencies AS catalog_currencies, stored.*
  FROM priced
  LEFT JOIN (SELECT * FROM claimed UNION ALL SELECT * FROM earlier) AS stored ON true
"""

_SWEEP: Final = """
DELETE FROM idempotency_keys
 WHERE (owner, key) IN (
        SELECT owner, key FROM idempotency_keys
         WHERE expires_at <= now()
         LIMIT $1
           FOR UPDATE SKIP LOCKED)
"""


class IdempotencyStore:
    def __init__(self, pool: asyncpg.Pool | None, settings: Settings) -> None:
        self._pool = pool
        self._ttl_s = settings.idempotency_ttl_s
        secret = settings.jwt_secret.get_secret_value().encode()
        self._key = hmac.new(secret, _KEY_LABEL, hashlib.sha256).digest()

    def fingerprint(self, method: str, path: str, body: Any) -> str:
        """Equal for requests that mean the same (key order and whitespace do not count)."""
        canonical = json.dumps([method, path, body], sort_keys=True, separators=(",", ":"))
        return hmac.new(self._key, canonical.encode(), hashlib.sha256).hexdigest()

    async def claim_order(
        self, owner: str, key: str, fingerprint: str, skus: list[str], envelope: Envelope
    ) -> Claim | NotSellable:
        """Read the prices of ``skus`` and claim the key for ``envelope``, in one statement.

        A ``Claim`` is fresh when the key now holds ``envelope`` and the prices just read; when
        not, it holds an earlier request's. ``NotSellable`` when the catalog cannot price the
        order and the key holds nothing. Raises KeyReused for a different request's key.
        """
        pool = self._need_pool()
        row = await pool.fetchrow(
            _CLAIM,
            owner,
            key,
            fingerprint,
            sorted(set(skus)),
            envelope.order_id,
            envelope.event_id,
            envelope.occurred_at,
            envelope.trace_id,
            float(self._ttl_s),
        )
        assert row is not None  # one row always: the catalog read
        if row["order_id"] is None:
            return NotSellable(set(row["catalog_skus"]), sorted(row["catalog_currencies"]))
        if not hmac.compare_digest(row["fingerprint"], fingerprint):
            raise KeyReused
        currency = row["currency"]
        return Claim(
            envelope=Envelope(
                order_id=row["order_id"],
                event_id=row["event_id"],
                occurred_at=row["occurred_at"],
                trace_id=row["trace_id"],
            ),
            prices={
                sku: UnitPrice(cents, currency)
                for sku, cents in zip(row["skus"], row["price_cents"], strict=True)
            },
            fresh=row["order_id"] == envelope.order_id,
        )

    async def sweep(self, batch: int = 1000) -> int:
        """Delete expired keys, ``batch`` rows a statement; return how many went.

        Small batches keep each statement's locks and WAL short; SKIP LOCKED lets several
        gateways sweep at once without waiting on each other (or on a claim taking a key over).
        """
        removed = 0
        while True:
            status = await self._need_pool().execute(_SWEEP, batch)
            count = int(status.rsplit(" ", 1)[-1])
            removed += count
            if count < batch:
                return removed

    async def sweep_forever(self, interval_s: float) -> None:
        while True:
            try:
                removed = await self.sweep()
                if removed:
                    log.info("expired idempotency keys removed", count=removed)
            except (OSError, asyncpg.PostgresError) as error:
                # The next round tries again; an expired key still counts as absent meanwhile.
                log.warning("idempotency sweep failed", error=repr(error))
            await asyncio.sleep(interval_s)

    def _need_pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise RuntimeError("this IdempotencyStore was made without a database pool")
        return self._pool
