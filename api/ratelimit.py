"""Fixed-window rate limits shared by every gateway replica, counted in DynamoDB.

One atomic ``ADD`` per attempt on the item of (scope, subject, window): replicas behind a load
balancer count together, which an in-process limiter could not. The subject (a client address,
an email) is stored only as a hash. A fixed window lets a burst of twice the limit through at a
window edge; for sign-in and registration that is acceptable, and it costs one write.
A scope may count over a window of its own (sending verification codes counts per hour); the
scope is part of the key, so windows of different lengths never share an item.
"""

from __future__ import annotations

import hashlib
import math
import time

from api.dynamo import EXPIRES_AT, KEY, DynamoDBClient
from api.problem_types import ProblemType
from api.problems import ApiError


class RateLimiter:
    def __init__(self, client: DynamoDBClient, table: str, window_s: int) -> None:
        self._client = client
        self._table = table
        self._window_s = window_s

    async def hit(self, scope: str, subject: str, limit: int, window_s: int | None = None) -> None:
        """Count one attempt; raise a 429 rate-limited problem (Retry-After) past ``limit``
        attempts in the window (``window_s``, or the limiter's own)."""
        window_s = window_s or self._window_s
        now = time.time()
        window = int(now // window_s)
        digest = hashlib.sha256(subject.encode()).hexdigest()[:32]
        response = await self._client.update_item(
            TableName=self._table,
            Key={KEY: {"S": f"{scope}#{digest}#{window}"}},
            UpdateExpression="ADD hits :one SET #expires = :expires",
            ExpressionAttributeNames={"#expires": EXPIRES_AT},
            ExpressionAttributeValues={
                ":one": {"N": "1"},
                ":expires": {"N": str((window + 2) * window_s)},
            },
            ReturnValues="UPDATED_NEW",
        )
        if int(response["Attributes"]["hits"]["N"]) > limit:
            retry_after = max(1, math.ceil((window + 1) * window_s - now))
            raise ApiError(
                ProblemType.RATE_LIMITED,
                f"Too many {scope} attempts; try again in {retry_after} s.",
                retry_after_s=retry_after,
            )
