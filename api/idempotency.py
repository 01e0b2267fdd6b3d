"""Idempotency keys (the ``Idempotency-Key`` header) in DynamoDB.

The first request with a key stores, in one conditional put, everything its answer consists of:
the response (status, body, Location) and the events it publishes. Whoever then answers that
key, the first request or any retry, publishes those stored events before answering. Events
carry their ``event_id``, so publishing them again is harmless (every consumer dedupes on it),
and so:

- same key, same body: the same response, replayed, and never a second order, however many
  duplicates arrive at once (the conditional put lets exactly one of them store its order);
- a crash between the put and the publish loses nothing: the client's retry publishes;
- no answer is given before its events are acknowledged by Kafka, retry or not;
- same key, another body: 422, nothing published.

Keys belong to a caller (``owner``): two customers may pick the same key. The request is
compared by an HMAC of its canonical JSON, which keeps what it contained (a card number, say)
out of the table; the caller may also leave secrets out of the stored events and put them back
from the request, which is identical by then.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from typing import Any, Final

from botocore.exceptions import ClientError

from api.dynamo import EXPIRES_AT, KEY, DynamoDBClient, error_code
from api.problems import Unprocessable
from shopstream.settings import Settings

_KEY_LABEL: Final = b"shopstream idempotency fingerprint v1"


@dataclass(frozen=True, slots=True)
class StoredResponse:
    status: int
    body: str  # JSON text
    location: str | None
    events: tuple[str, ...]  # the contract's JSON of each event to publish before answering


class KeyReused(Unprocessable):
    def __init__(self) -> None:
        super().__init__(
            "This Idempotency-Key was used with a different request body; use a new key for a "
            "new request."
        )


class IdempotencyStore:
    def __init__(self, client: DynamoDBClient, settings: Settings) -> None:
        self._client = client
        self._table = settings.idempotency_table
        self._ttl_s = settings.idempotency_ttl_s
        secret = settings.jwt_secret.get_secret_value().encode()
        self._key = hmac.new(secret, _KEY_LABEL, hashlib.sha256).digest()

    def fingerprint(self, method: str, path: str, body: Any) -> str:
        """Equal for requests that mean the same (key order and whitespace do not count)."""
        canonical = json.dumps([method, path, body], sort_keys=True, separators=(",", ":"))
        return hmac.new(self._key, canonical.encode(), hashlib.sha256).hexdigest()

    async def claim(
        self, owner: str, key: str, fingerprint: str, response: StoredResponse
    ) -> tuple[StoredResponse, bool]:
        """Store ``response`` under the key unless one is there; return the stored one.

        The flag is True when ``response`` was stored now, False when an earlier request's
        response is returned. Raises KeyReused for a different request under the same key.
        """
        pk = f"{owner}#{key}"
        # Twice at most: an expired item may vanish between our put and our read.
        for _ in range(2):
            now = int(time.time())
            try:
                await self._client.put_item(
                    TableName=self._table,
                    Item=self._item(pk, fingerprint, response, now),
                    # An expired item that TTL has not swept yet counts as absent.
                    ConditionExpression=f"attribute_not_exists({KEY}) OR #expires < :now",
                    ExpressionAttributeNames={"#expires": EXPIRES_AT},
                    ExpressionAttributeValues={":now": {"N": str(now)}},
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                )
                return response, True
            except ClientError as error:
                if error_code(error) != "ConditionalCheckFailedException":
                    raise
                existing = error.response.get("Item") or await self._get(pk)
            if existing is None:
                continue
            if not hmac.compare_digest(existing["fingerprint"]["S"], fingerprint):
                raise KeyReused
            return _stored(existing), False
        raise RuntimeError(f"idempotency key {key!r} could neither be stored nor read")

    async def find(self, owner: str, key: str, fingerprint: str) -> StoredResponse | None:
        """The response stored under the key, if any; KeyReused for another request's key."""
        item = await self._get(f"{owner}#{key}")
        if item is None or int(item[EXPIRES_AT]["N"]) < time.time():
            return None
        if not hmac.compare_digest(item["fingerprint"]["S"], fingerprint):
            raise KeyReused
        return _stored(item)

    async def _get(self, pk: str) -> dict[str, Any] | None:
        result = await self._client.get_item(
            TableName=self._table, Key={KEY: {"S": pk}}, ConsistentRead=True
        )
        item: dict[str, Any] | None = result.get("Item")
        return item

    def _item(
        self, pk: str, fingerprint: str, response: StoredResponse, now: int
    ) -> dict[str, Any]:
        item: dict[str, Any] = {
            KEY: {"S": pk},
            "fingerprint": {"S": fingerprint},
            "status": {"N": str(response.status)},
            "body": {"S": response.body},
            "events": {"L": [{"S": event} for event in response.events]},
            "created_at": {"N": str(now)},
            EXPIRES_AT: {"N": str(now + self._ttl_s)},
        }
        if response.location is not None:
            item["location"] = {"S": response.location}
        return item


def _stored(item: dict[str, Any]) -> StoredResponse:
    return StoredResponse(
        status=int(item["status"]["N"]),
        body=item["body"]["S"],
        location=item["location"]["S"] if "location" in item else None,
        events=tuple(event["S"] for event in item["events"]["L"]),
    )
