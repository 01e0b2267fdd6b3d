"""The gateways' DynamoDB tables: sessions and rate-limit counters (and the idempotency keys of
earlier releases, which ``api.idempotency_import`` copies into PostgreSQL).

Each is a plain key-value table (hash key ``pk``) whose items expire through DynamoDB's TTL on
``expires_at`` (epoch seconds). TTL deletes lazily (within days in AWS, never in moto), so
every reader also compares ``expires_at`` with the clock and treats an expired item as absent.

The gateway creates a missing table at start, as the history projection does for its own: the
local stack and test runs need it, and in AWS the call finds the table that was provisioned.
"""

from __future__ import annotations

from typing import Any, Final, TypeAlias

from botocore.exceptions import ClientError

# An aiobotocore DynamoDB client; aiobotocore ships no type information.
DynamoDBClient: TypeAlias = Any

KEY: Final = "pk"
EXPIRES_AT: Final = "expires_at"


def error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


async def ensure_table(client: DynamoDBClient, table: str) -> None:
    """Create ``table`` (hash key ``pk``, TTL on ``expires_at``) unless it exists; wait for it."""
    try:
        await client.describe_table(TableName=table)
    except ClientError as error:
        if error_code(error) != "ResourceNotFoundException":
            raise
        try:
            await client.create_table(
                TableName=table,
                BillingMode="PAY_PER_REQUEST",
                KeySchema=[{"AttributeName": KEY, "KeyType": "HASH"}],
                AttributeDefinitions=[{"AttributeName": KEY, "AttributeType": "S"}],
            )
        except ClientError as create_error:
            # Another gateway created it between our describe and create: theirs will do.
            if error_code(create_error) != "ResourceInUseException":
                raise
    waiter = client.get_waiter("table_exists")
    await waiter.wait(TableName=table, WaiterConfig={"Delay": 1, "MaxAttempts": 120})
    ttl = await client.describe_time_to_live(TableName=table)
    if ttl["TimeToLiveDescription"].get("TimeToLiveStatus") not in {"ENABLED", "ENABLING"}:
        try:
            await client.update_time_to_live(
                TableName=table,
                TimeToLiveSpecification={"Enabled": True, "AttributeName": EXPIRES_AT},
            )
        except ClientError as error:
            # A concurrent start enabled it first ("TimeToLive is already enabled").
            if error_code(error) != "ValidationException":
                raise
