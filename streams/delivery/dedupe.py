"""One notification per event per channel: delivery claims in DynamoDB.

Before sending, a worker claims the notification's id with a conditional put; after sending
it marks the claim sent. A redelivered message (SQS delivers at least once, and the agent
publishes again when Kafka redelivers its event) finds the id sent and is dropped. A claim
whose holder died (a crash between claim and send) lapses after the queue's visibility
timeout, just when SQS hands the message to the next receive, which takes it over. What is
left is the crash after the send and before the mark: that one is sent again, the price of
at-least-once (SMTP has no idempotency key to hand).
"""

from __future__ import annotations

import time
from datetime import datetime
from enum import Enum
from typing import Any
from uuid import UUID

from botocore.exceptions import ClientError

_KEY = "notification_id"
_EXPIRES = "expires_at"  # epoch seconds; DynamoDB's TTL removes the item some time after


class Claim(Enum):
    TAKEN = "taken"  # ours to send
    SENT = "sent"  # sent before: drop the copy
    HELD = "held"  # another worker is sending it right now: look again later


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


async def ensure_table(dynamodb: Any, table: str) -> None:
    try:
        await dynamodb.describe_table(TableName=table)
    except ClientError as error:
        if _code(error) != "ResourceNotFoundException":
            raise
        try:
            await dynamodb.create_table(
                TableName=table,
                BillingMode="PAY_PER_REQUEST",
                KeySchema=[{"AttributeName": _KEY, "KeyType": "HASH"}],
                AttributeDefinitions=[{"AttributeName": _KEY, "AttributeType": "S"}],
            )
        except ClientError as racing:
            if _code(racing) != "ResourceInUseException":  # another worker made it first
                raise
    waiter = dynamodb.get_waiter("table_exists")
    await waiter.wait(TableName=table, WaiterConfig={"Delay": 1, "MaxAttempts": 120})
    described = await dynamodb.describe_time_to_live(TableName=table)
    if described["TimeToLiveDescription"]["TimeToLiveStatus"] in {"DISABLED", "DISABLING"}:
        await dynamodb.update_time_to_live(
            TableName=table,
            TimeToLiveSpecification={"Enabled": True, "AttributeName": _EXPIRES},
        )


class Deliveries:
    def __init__(self, dynamodb: Any, table: str, claim_s: int, keep_s: int) -> None:
        self.dynamodb = dynamodb
        self.table = table
        self.claim_s = claim_s
        self.keep_s = keep_s

    async def claim(self, notification_id: UUID) -> Claim:
        now = int(time.time())
        try:
            await self.dynamodb.put_item(
                TableName=self.table,
                Item={
                    _KEY: {"S": str(notification_id)},
                    "state": {"S": "claimed"},
                    "claimed_until": {"N": str(now + self.claim_s)},
                    _EXPIRES: {"N": str(now + self.keep_s)},
                },
                ConditionExpression=(
                    "attribute_not_exists(#id) OR (#state = :claimed AND claimed_until < :now)"
                ),
                ExpressionAttributeNames={"#id": _KEY, "#state": "state"},
                ExpressionAttributeValues={":claimed": {"S": "claimed"}, ":now": {"N": str(now)}},
            )
        except ClientError as error:
            if _code(error) != "ConditionalCheckFailedException":
                raise
            found = await self.dynamodb.get_item(
                TableName=self.table, Key={_KEY: {"S": str(notification_id)}}, ConsistentRead=True
            )
            state = found.get("Item", {}).get("state", {}).get("S")
            return Claim.SENT if state == "sent" else Claim.HELD
        return Claim.TAKEN

    async def sent(self, notification_id: UUID) -> None:
        now = int(time.time())
        await self.dynamodb.put_item(
            TableName=self.table,
            Item={
                _KEY: {"S": str(notification_id)},
                "state": {"S": "sent"},
                "sent_at": {"N": str(now)},
                _EXPIRES: {"N": str(now + self.keep_s)},
            },
        )

    async def release(self, notification_id: UUID) -> None:
        """Give up a claim after a failed send, so that the retry can take it at once."""
        try:
            await self.dynamodb.delete_item(
                TableName=self.table,
                Key={_KEY: {"S": str(notification_id)}},
                ConditionExpression="#state = :claimed",
                ExpressionAttributeNames={"#state": "state"},
                ExpressionAttributeValues={":claimed": {"S": "claimed"}},
            )
        except ClientError as error:
            if _code(error) != "ConditionalCheckFailedException":
                raise

    async def newest(self, key: str, occurred_at: datetime) -> bool:
        """Record ``occurred_at`` as the newest under ``key`` unless something newer is there;
        whether it was (the same time again counts: a retry of the newest stays the newest)."""
        at = str(int(occurred_at.timestamp() * 1_000_000))
        try:
            await self.dynamodb.put_item(
                TableName=self.table,
                Item={
                    _KEY: {"S": key},
                    "occurred_at": {"N": at},
                    _EXPIRES: {"N": str(int(time.time()) + self.keep_s)},
                },
                ConditionExpression="attribute_not_exists(#id) OR occurred_at <= :at",
                ExpressionAttributeNames={"#id": _KEY},
                ExpressionAttributeValues={":at": {"N": at}},
            )
        except ClientError as error:
            if _code(error) != "ConditionalCheckFailedException":
                raise
            return False
        return True
