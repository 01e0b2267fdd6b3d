"""The gateway's readiness: what this process uses answers, over the connections it holds.

``/readyz`` is asked by every load balancer and probe, often, and by anyone who finds it: a
check opens nothing new (the pooled PostgreSQL connection, the publisher's Kafka client, the
AWS clients of the lifespan), covers only what this process's routers use (a gateway does not
go out of service because RabbitMQ, which it never calls, is down), and one result serves
every caller for ``readiness_cache_s``: a burst of probes costs one check, however large.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from api.resources import Resources
from shopstream.health import DependencyHealth, probe
from shopstream.metrics import DEPENDENCY_UP
from shopstream.settings import Settings

Check = Callable[[], Awaitable[str]]


def _checks(resources: Resources) -> dict[str, tuple[str, Check]]:
    """name -> (address, check) for what this process uses."""
    settings = resources.settings
    pool = resources.pool

    async def postgres() -> str:
        async with pool.acquire(timeout=settings.health_timeout_s) as connection:
            await connection.fetchval("SELECT 1")
            version = connection.get_server_version()
        return f"PostgreSQL {version.major}.{version.minor} (pooled)"

    checks: dict[str, tuple[str, Check]] = {
        "postgres": (_host_of(settings.database_url.get_secret_value()), postgres)
    }
    if (publisher := resources.publisher) is not None:

        async def kafka() -> str:
            cluster = await publisher.producer.client.fetch_all_metadata()
            if not cluster.brokers():
                raise RuntimeError("no broker in the cluster's metadata")
            return f"{len(cluster.brokers())} broker(s) (the publisher's client)"

        checks["kafka"] = (settings.kafka_bootstrap_servers, kafka)
    aws_address = settings.aws_endpoint_url or f"AWS {settings.aws_region}"
    if (dynamodb := resources.dynamodb) is not None:

        async def dynamo() -> str:
            await dynamodb.list_tables(Limit=1)
            return "ListTables answered"

        checks["dynamodb"] = (aws_address, dynamo)
    if (s3 := resources.s3) is not None:

        async def images() -> str:
            await s3.head_bucket(Bucket=settings.product_images_bucket)
            return f"bucket {settings.product_images_bucket}"

        checks["s3"] = (aws_address, images)
    return checks


class Readiness:
    """The last result, kept ``ttl_s``; callers arriving during a check wait for that one."""

    def __init__(
        self,
        checks: dict[str, tuple[str, Check]],
        settings: Settings,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._checks = checks
        self._settings = settings
        self._ttl_s = settings.readiness_cache_s
        self._clock = clock
        self._lock = asyncio.Lock()
        self._last: tuple[float, list[DependencyHealth]] | None = None

    async def results(self) -> list[DependencyHealth]:
        if (fresh := self._fresh()) is not None:
            return fresh
        async with self._lock:
            if (fresh := self._fresh()) is not None:  # checked while this caller waited
                return fresh
            results = list(
                await asyncio.gather(
                    *(
                        probe(name, address, _ignoring_settings(check), self._settings)
                        for name, (address, check) in self._checks.items()
                    )
                )
            )
            for result in results:
                DEPENDENCY_UP.labels(result.name, str(result.ok).lower()).observe(
                    result.latency_ms / 1000
                )
            self._last = (self._clock(), results)
            return results

    @classmethod
    def of(cls, resources: Resources) -> Readiness:
        return cls(_checks(resources), resources.settings)

    def _fresh(self) -> list[DependencyHealth] | None:
        if self._last is None or self._clock() - self._last[0] >= self._ttl_s:
            return None
        return self._last[1]


def _host_of(url: str) -> str:
    """host:port of a URL, without the credentials."""
    return url.split("@", 1)[-1].split("/", 1)[0]


def _ignoring_settings(check: Check) -> Callable[[object], Awaitable[str]]:
    return lambda _settings: check()
