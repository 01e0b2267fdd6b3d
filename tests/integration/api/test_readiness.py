"""/readyz on gateways of their own: a burst of probes opens no connection and costs one
check, details are for admins, and a dependency that stops answering is a 503 problem."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Iterator

import asyncpg
import boto3
import httpx
import jsonschema
import pytest

from shopstream.settings import Settings
from tests.integration.api.conftest import (
    GatewayProcess,
    Person,
    start_gateway,
    stop_gateway,
    undocumented_headers,
)

POOL_SIZE = 4


@pytest.fixture(scope="module")
def tagged_gateway(
    stack_settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[GatewayProcess, str]]:
    """A gateway whose PostgreSQL connections carry a name of their own, to be counted."""
    name = f"readyz-{uuid.uuid4().hex[:8]}"
    url = f"{stack_settings.database_url.get_secret_value()}?application_name={name}"
    started = start_gateway(
        tmp_path_factory.mktemp("readyz") / "gateway.log",
        {
            "SHOPSTREAM_DATABASE_URL": url,
            "SHOPSTREAM_GATEWAY_DB_POOL_SIZE": str(POOL_SIZE),
            "SHOPSTREAM_READINESS_CACHE_S": "60",
        },
    )
    try:
        yield started, name
    finally:
        stop_gateway(started)


def _probes_run(metrics: str) -> float:
    found = re.search(
        r'^shopstream_dependency_probe_seconds_count\{dependency="postgres",ok="true"\} (\S+)$',
        metrics,
        re.MULTILINE,
    )
    return float(found.group(1)) if found else 0.0


async def test_a_burst_of_probes_costs_one_check_and_opens_no_connection(
    tagged_gateway: tuple[GatewayProcess, str], stack_settings: Settings
) -> None:
    gateway, name = tagged_gateway
    database = await asyncpg.connect(stack_settings.database_url.get_secret_value())
    most = 0
    bursting = True

    async def sample() -> None:
        nonlocal most
        while bursting:
            count = await database.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1", name
            )
            most = max(most, count)
            await asyncio.sleep(0.005)

    limits = httpx.Limits(max_connections=300)
    try:
        async with httpx.AsyncClient(base_url=gateway.url, timeout=60, limits=limits) as client:
            before = _probes_run((await client.get("/metrics")).text)
            sampler = asyncio.create_task(sample())
            answers = await asyncio.gather(*(client.get("/readyz") for _ in range(300)))
            bursting = False
            await sampler
            after = _probes_run((await client.get("/metrics")).text)
    finally:
        await database.close()
    assert [answer.status_code for answer in answers] == [200] * 300
    assert all(answer.json() == {"status": "ready"} for answer in answers)
    assert after - before <= 1  # one check (or none: a cached one) for the whole burst
    assert 0 < most <= POOL_SIZE  # the pool's connections, and nothing opened beside them


async def test_details_are_shown_to_admins_only(
    tagged_gateway: tuple[GatewayProcess, str], admin: Person, customer: Person
) -> None:
    gateway, _ = tagged_gateway
    async with httpx.AsyncClient(base_url=gateway.url, timeout=30) as client:
        anyone = await client.get("/readyz")
        stale = await client.get("/readyz", headers={"Authorization": "Bearer not.a.token"})
        as_customer = await client.get("/readyz", headers=customer.headers)
        as_admin = await client.get("/readyz", headers=admin.headers)
    for answer in (anyone, stale, as_customer):
        assert answer.status_code == 200
        assert answer.json() == {"status": "ready"}
        assert "127.0.0.1" not in answer.text
        assert "account" not in answer.text
    dependencies = {item["name"]: item for item in as_admin.json()["dependencies"]}
    assert set(dependencies) == {"postgres", "kafka", "dynamodb", "s3"}
    assert all(item["ok"] and item["latency_ms"] > 0 for item in dependencies.values())


@pytest.fixture
def products_gateway(
    stack_settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[GatewayProcess, str]]:
    bucket = f"test-readyz-{uuid.uuid4().hex[:10]}"
    started = start_gateway(
        tmp_path_factory.mktemp("readyz-products") / "gateway.log",
        {
            "SHOPSTREAM_GATEWAY_ROUTERS": '["products"]',
            "SHOPSTREAM_PRODUCT_IMAGES_BUCKET": bucket,
            "SHOPSTREAM_READINESS_CACHE_S": "0",
        },
    )
    try:
        yield started, bucket
    finally:
        stop_gateway(started)


async def test_a_dependency_that_stops_answering_is_a_503_problem_naming_it(
    products_gateway: tuple[GatewayProcess, str], stack_settings: Settings, admin: Person
) -> None:
    gateway, bucket = products_gateway
    async with httpx.AsyncClient(base_url=gateway.url, timeout=30) as client:
        ready = await client.get("/readyz")
        assert ready.status_code == 200, ready.text
        s3 = boto3.client(
            "s3",
            endpoint_url=stack_settings.aws_endpoint_url,
            region_name=stack_settings.aws_region,
        )
        s3.delete_bucket_policy(Bucket=bucket)
        s3.delete_bucket(Bucket=bucket)
        refused = await client.get("/readyz")
        refused_to_admin = await client.get("/readyz", headers=admin.headers)
        document = (await client.get("/openapi.json")).json()
    assert refused.status_code == 503
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.headers["retry-after"] == "5"
    assert undocumented_headers(refused) == []
    assert refused.json() == {
        "type": "https://shopstream.dev/problems/not-ready",
        "title": "Not ready",
        "status": 503,
        "detail": "Not ready: s3 did not answer.",
        "instance": "/readyz",
        "not_ready": ["s3"],
    }
    # Both shapes, the anonymous and the admin's, are the one the document promises.
    assert refused_to_admin.status_code == 503
    assert {item["name"] for item in refused_to_admin.json()["dependencies"]} >= {"s3"}
    documented = document["paths"]["/readyz"]["get"]["responses"]["503"]["content"]
    schema = {**documented["application/problem+json"]["schema"], **document}
    for answer in (refused, refused_to_admin):
        jsonschema.validate(answer.json(), schema)
