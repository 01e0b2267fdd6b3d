"""Copy the idempotency keys of earlier releases from DynamoDB into PostgreSQL.

Earlier releases kept each key of ``POST /orders`` as a DynamoDB item (``pk`` = owner#key) with
the answer's text and its ``OrderPlaced`` (payment token redacted). What the PostgreSQL row
keeps is all in that event: the order's id, the event's envelope and the prices. Unexpired
items are copied with their expiry; a key already in PostgreSQL is left as it is, so the
import can run any number of times (``python -m api import-idempotency-keys``; when to run it
during a deploy is in docs/idempotency.md). Items that are not one accepted order (none were
ever written, but the table is not ours alone to vouch for) are counted and logged, not copied.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

import asyncpg
from botocore.exceptions import ClientError

from api.dynamo import EXPIRES_AT, KEY, DynamoDBClient, error_code
from api.schema import migrate
from api.services.orders import accepted_body
from shopstream.aws import aws_client
from shopstream.logs import get_logger
from shopstream.settings import Settings
from streams.contract import ContractError, OrderPlaced, decode

log = get_logger(__name__)

_INSERT: Final = """
INSERT INTO idempotency_keys (owner, key, fingerprint, order_id, event_id, occurred_at,
                              trace_id, skus, price_cents, currency, created_at, expires_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
ON CONFLICT (owner, key) DO NOTHING
"""


@dataclass
class ImportReport:
    table: str
    imported: int = 0
    present: int = 0  # in PostgreSQL already (an earlier import, or claimed since)
    expired: int = 0
    skipped: int = 0  # not an accepted order's key

    def __str__(self) -> str:
        return (
            f"{self.table}: {self.imported} keys imported, {self.present} already present, "
            f"{self.expired} expired, {self.skipped} skipped"
        )


def row_of(item: dict[str, Any]) -> tuple[Any, ...] | str:
    """The ``idempotency_keys`` row for an item of the old table, or why there is none."""
    owner, sep, key = item[KEY]["S"].partition("#")
    if not sep:
        return "its pk is not owner#key"
    if int(item["status"]["N"]) != 202 or len(item["events"]["L"]) != 1:
        return "not one accepted order"
    try:
        event = decode(item["events"]["L"][0]["S"].encode())
    except ContractError as error:
        return f"its event does not decode: {error}"
    if not isinstance(event, OrderPlaced) or event.user_id != owner:
        return "its event is not this owner's OrderPlaced"
    if accepted_body(event) != item["body"]["S"]:
        # Still the same order (its id and event are what a replay needs); worth knowing.
        log.warning("a replay's body will differ in form", owner=owner, order_id=event.order_id)
    lines = sorted(event.lines, key=lambda line: line.sku)
    return (
        owner,
        key,
        item["fingerprint"]["S"],
        event.order_id,
        event.event_id,
        event.occurred_at,
        event.trace_id,
        [line.sku for line in lines],
        [line.unit_price_cents for line in lines],
        event.currency,
        datetime.fromtimestamp(int(item["created_at"]["N"]), UTC),
        datetime.fromtimestamp(int(item[EXPIRES_AT]["N"]), UTC),
    )


async def import_keys(
    client: DynamoDBClient, pool: asyncpg.Pool, table: str, now: float | None = None
) -> ImportReport:
    report = ImportReport(table)
    now = time.time() if now is None else now
    pages = client.get_paginator("scan").paginate(TableName=table, ConsistentRead=True)
    async for page in pages:
        rows = []
        for item in page.get("Items", []):
            if int(item[EXPIRES_AT]["N"]) < now:
                report.expired += 1
                continue
            row = row_of(item)
            if isinstance(row, str):
                log.warning("idempotency key not imported", pk=item[KEY]["S"], reason=row)
                report.skipped += 1
                continue
            rows.append(row)
        async with pool.acquire() as connection, connection.transaction():
            for row in rows:
                status = await connection.execute(_INSERT, *row)
                if status.endswith(" 1"):
                    report.imported += 1
                else:
                    report.present += 1
    return report


async def run_import(settings: Settings) -> ImportReport:
    """Import from ``settings.idempotency_table``; a table that is gone imports nothing."""
    pool = await asyncpg.create_pool(settings.database_url.get_secret_value(), min_size=1)
    try:
        await migrate(pool)  # the table imported into may be new with this release
        async with aws_client(settings, "dynamodb") as client:
            try:
                report = await import_keys(client, pool, settings.idempotency_table)
            except ClientError as error:
                if error_code(error) != "ResourceNotFoundException":
                    raise
                report = ImportReport(settings.idempotency_table)
    finally:
        await pool.close()
    log.info("idempotency keys imported", **vars(report))
    return report
