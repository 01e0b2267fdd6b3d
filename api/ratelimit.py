"""Fixed-window rate limits shared by every gateway replica, counted in DynamoDB.

One atomic ``ADD`` per attempt on the item of (scope, subject, window): replicas behind a load
balancer count together, which an in-process limiter could not. The subject (a client address,
an email) is stored only as a hash. A fixed window lets a burst of twice the limit through at a
window edge; for sign-in and registration that is acceptable, and it costs one write.
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

    async def hit(self, scope: str, subject: str, limit: int) -> None:
        """Count one attempt; raise a 429 rate-limited problem (Retry-After) past ``limit``."""
        now = time.time()
        window = int(now // self._window_s)
        digest = hashlib.sha256(subject.encode()).hexdigest()[:32]
        response = await self._client.update_item(
            TableName=self._table,
            Key={KEY: {"S": f"{scope}#{digest}#{window}"}},
            UpdateExpression="ADD hits :one SET #expires = :expires",
            ExpressionAttributeNames={"#expires": EXPIRES_AT},
            ExpressionAttributeValues={
                ":one": {"N": "1"},
                ":expires": {"N": str((window + 2) * self._window_s)},
            },
            ReturnValues="UPDATED_NEW",
        )
        if int(response["Attributes"]["hits"]["N"]) > limit:
            retry_after = max(1, math.ceil((window + 1) * self._window_s - now))
            raise ApiError(
                ProblemType.RATE_LIMITED,
                f"Too many {scope} attempts; try again in {retry_after} s.",
                retry_after_s=retry_after,
            )
