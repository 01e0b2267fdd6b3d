"""What a gateway process holds for its lifetime, opened once by the app's lifespan.

One asyncpg pool, one EventPublisher (its Kafka producer batches every request's events), one
DynamoDB and one S3 client; where products are served, the outbox relay runs beside them, and
where orders are, the sweep of expired idempotency keys. Where users are, an SNS client sends
the codes that verify phone numbers. A process serves only the routers its
settings name, and opens only what those need: a users-only deployment never connects to Kafka.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Any

import asyncpg
from aiobotocore.config import AioConfig as Config
from botocore.exceptions import ClientError

from api.address_codes import CodeMac
from api.code_sender import CodeSender
from api.dynamo import DynamoDBClient, ensure_table, error_code
from api.idempotency import IdempotencyStore
from api.outbox import Outbox
from api.ratelimit import RateLimiter
from api.schema import migrate
from api.security import AccessTokens, PasswordHasher
from api.services.address_verification import Verifier
from api.services.live import LiveHub
from api.sessions import Sessions
from shopstream.aws import aws_client
from shopstream.logs import get_logger
from shopstream.settings import Settings
from streams.projections.history import ensure_history_table
from streams.publisher import EventPublisher

log = get_logger(__name__)

_AWS_CONNECTIONS = 64
# botocore's client-side parameter validation walks the whole request against the API model
# first; the requests are built by our own tested code, and DynamoDB validates them again.
_DYNAMODB_CONFIG = Config(max_pool_connections=_AWS_CONNECTIONS, parameter_validation=False)
# The signing key's default in the settings: accepted on a developer's machine only.
_LOCAL_SECRET_PREFIX = "local-only-"  # noqa: S105 - a prefix to refuse, not a secret


@dataclass(frozen=True, slots=True)
class Resources:
    settings: Settings
    pool: asyncpg.Pool
    tokens: AccessTokens
    # None where the routers served do not need them.
    publisher: EventPublisher | None
    dynamodb: DynamoDBClient | None
    s3: Any | None
    hasher: PasswordHasher | None
    sessions: Sessions | None
    limiter: RateLimiter | None
    idempotency: IdempotencyStore | None
    outbox: Outbox | None
    live: LiveHub | None
    verifier: Verifier | None


def check_secret(settings: Settings) -> None:
    """Refuse a signing key that anyone could know or guess; the message says what to do."""
    secret = settings.jwt_secret.get_secret_value()
    if settings.environment != "local" and secret.startswith(_LOCAL_SECRET_PREFIX):
        # Fail closed: an unset environment is not assumed to be a developer's machine.
        where = (
            f"environment {settings.environment!r}"
            if settings.environment
            else "an unset environment (SHOPSTREAM_ENVIRONMENT)"
        )
        raise RuntimeError(
            f"SHOPSTREAM_JWT_SECRET is the committed local default in {where}; set "
            "SHOPSTREAM_JWT_SECRET to a random secret of at least 32 bytes (e.g. `openssl "
            "rand -base64 48`), or SHOPSTREAM_ENVIRONMENT=local on a developer's machine"
        )
    if len(secret.encode()) < 32:
        # RFC 7518 3.2: an HS256 key is at least as long as the hash output.
        raise RuntimeError(
            f"SHOPSTREAM_JWT_SECRET is {len(secret.encode())} bytes long; it must be at least "
            "32 bytes (e.g. `openssl rand -base64 48`)"
        )


@asynccontextmanager
async def open_resources(settings: Settings) -> AsyncIterator[Resources]:
    check_secret(settings)
    routers = settings.gateway_routers
    async with AsyncExitStack() as stack:
        pool = await asyncpg.create_pool(
            settings.database_url.get_secret_value(),
            min_size=1,
            max_size=settings.gateway_db_pool_size,
            reset=_keep_session,
        )
        stack.push_async_callback(pool.close)
        applied = await migrate(pool)
        if applied:
            log.info("database migrated", versions=applied)

        publisher = None
        if routers & {"products", "orders"}:
            publisher = EventPublisher(settings)
            await publisher.start()
            stack.push_async_callback(publisher.stop)

        dynamodb: DynamoDBClient = await stack.enter_async_context(
            aws_client(settings, "dynamodb", _DYNAMODB_CONFIG)
        )
        sessions = limiter = hasher = idempotency = verifier = None
        if routers & {"users", "orders"}:
            # Sign-in and registration; cancellations, payment retries and address changes.
            await ensure_table(dynamodb, settings.rate_limit_table)
            limiter = RateLimiter(dynamodb, settings.rate_limit_table, settings.rate_limit_window_s)
        if "users" in routers:
            await ensure_table(dynamodb, settings.sessions_table)
            sessions = Sessions(dynamodb, settings)
            hasher = PasswordHasher(settings)
            assert limiter is not None
            sns = await stack.enter_async_context(aws_client(settings, "sns"))
            verifier = Verifier(
                settings,
                limiter,
                CodeSender(settings, sns),
                CodeMac(settings.jwt_secret.get_secret_value().encode()),
            )
        if routers & {"orders", "live"}:
            # The history table serves the timeline and the live stream's catch-up only: no
            # call of the order hot paths (POST /orders, GET /orders/{id}) goes to AWS.
            await ensure_history_table(settings, client=dynamodb)
        if "orders" in routers:
            idempotency = IdempotencyStore(pool, settings)
            sweeper = asyncio.create_task(
                idempotency.sweep_forever(settings.idempotency_sweep_interval_s),
                name="idempotency-sweep",
            )
            stack.push_async_callback(_stop, sweeper)

        live = None
        if "live" in routers:
            live = LiveHub(settings, pool)
            await live.start()
            stack.push_async_callback(live.stop)

        s3 = outbox = None
        if "products" in routers:
            s3 = await stack.enter_async_context(
                aws_client(settings, "s3", Config(max_pool_connections=_AWS_CONNECTIONS))
            )
            await ensure_bucket(s3, settings)
            assert publisher is not None
            outbox = Outbox(pool, publisher, settings)
            relay = asyncio.create_task(outbox.run(), name="outbox-relay")
            # Stopped before the producer and the pool it uses (the stack unwinds in reverse).
            stack.push_async_callback(_stop, relay)

        yield Resources(
            settings=settings,
            pool=pool,
            tokens=AccessTokens(settings),
            publisher=publisher,
            dynamodb=dynamodb,
            s3=s3,
            hasher=hasher,
            sessions=sessions,
            limiter=limiter,
            idempotency=idempotency,
            outbox=outbox,
            live=live,
            verifier=verifier,
        )


async def _keep_session(connection: asyncpg.Connection) -> None:
    """What the pool does on release besides rolling back an open transaction: nothing.

    asyncpg's default sends a reset query (advisory unlock, CLOSE ALL, UNLISTEN, RESET ALL)
    after every use, one more round trip per query. The gateway leaves no session state behind
    (no SET, LISTEN, cursor or session-level advisory lock; its locks are transaction-scoped)."""


async def _stop(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def ensure_bucket(s3: Any, settings: Settings) -> None:
    """Find the images bucket, or create it with its images readable by anyone.

    In AWS the bucket is provisioned with the infrastructure (public through a CDN, which
    ``product_images_base_url`` names), and this only finds it. Where the gateway creates it,
    on the local stack, it also grants public reads of ``products/*``, so that an image URL
    in a product is one a browser can load.
    """
    bucket = settings.product_images_bucket
    try:
        await s3.head_bucket(Bucket=bucket)
        return
    except ClientError as error:
        if error_code(error) not in {"404", "NoSuchBucket", "NotFound"}:
            raise
    options: dict[str, Any] = {}
    if settings.aws_region != "us-east-1":  # S3 refuses the default region as a constraint
        options["CreateBucketConfiguration"] = {"LocationConstraint": settings.aws_region}
    try:
        await s3.create_bucket(Bucket=bucket, **options)
    except ClientError as error:
        if error_code(error) in {"BucketAlreadyOwnedByYou", "BucketAlreadyExists"}:
            return  # another gateway made it (and its policy)
        raise
    public_images = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "PublicProductImages",
                "Effect": "Allow",
                "Principal": "*",
                "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{bucket}/products/*",
            }
        ],
    }
    await s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(public_images))
