"""schemathesis against the live gateway's OpenAPI: no 5xx, nothing off the documented schema.

The gateway under fuzz has a world of its own (database, topic prefix, tables, bucket), so the
generated products, users and orders never reach the developer's system or the other tests;
all of it is removed afterwards. The example count is bounded for CI; the longer run is this
same test with more:

    SHOPSTREAM_FUZZ_EXAMPLES=200 .venv/bin/pytest --timeout 3600 \
        tests/integration/api/test_schemathesis.py
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import boto3
import httpx
import pytest
from aiokafka.admin import AIOKafkaAdminClient

from shopstream.settings import Settings
from tests.integration.api.conftest import PASSWORD, GatewayProcess, start_gateway, stop_gateway

EXAMPLES = int(os.environ.get("SHOPSTREAM_FUZZ_EXAMPLES", "3"))
CHECKS = (
    "not_a_server_error,response_schema_conformance,status_code_conformance,"
    "content_type_conformance"
)


@dataclass(frozen=True)
class FuzzWorld:
    run: str
    database: str
    database_url: str
    env: dict[str, str]


@pytest.fixture(scope="module")
async def world(stack_settings: Settings) -> AsyncIterator[FuzzWorld]:
    run = uuid.uuid4().hex[:8]
    database = f"fuzz_{run}"
    url = stack_settings.database_url.get_secret_value()
    database_url = f"{url.rsplit('/', 1)[0]}/{database}"
    names = {
        "SESSIONS_TABLE": f"fuzz-{run}-sessions",
        "IDEMPOTENCY_TABLE": f"fuzz-{run}-idempotency",
        "RATE_LIMIT_TABLE": f"fuzz-{run}-rate-limits",
        "HISTORY_TABLE": f"fuzz-{run}-history",
        "PRODUCT_IMAGES_BUCKET": f"fuzz-{run}-images",
    }
    env = {f"SHOPSTREAM_{name}": value for name, value in names.items()}
    env |= {"SHOPSTREAM_DATABASE_URL": database_url, "SHOPSTREAM_TOPIC_PREFIX": f"fuzz-{run}."}
    admin = await asyncpg.connect(url)
    try:
        await admin.execute(f'CREATE DATABASE "{database}"')
        yield FuzzWorld(run, database, database_url, env)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        await admin.close()
        await _delete_topics(stack_settings, f"fuzz-{run}.")
        _delete_aws(stack_settings, names)


async def _delete_topics(settings: Settings, prefix: str) -> None:
    client = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    await client.start()
    try:
        topics = [name for name in await client.list_topics() if name.startswith(prefix)]
        if topics:
            await client.delete_topics(topics)
    finally:
        await client.close()


def _delete_aws(settings: Settings, names: dict[str, str]) -> None:
    options = {"endpoint_url": settings.aws_endpoint_url, "region_name": settings.aws_region}
    dynamodb = boto3.client("dynamodb", **options)
    for name, value in names.items():
        if name.endswith("_TABLE"):
            with contextlib.suppress(dynamodb.exceptions.ResourceNotFoundException):
                dynamodb.delete_table(TableName=value)
    s3 = boto3.client("s3", **options)
    bucket = names["PRODUCT_IMAGES_BUCKET"]
    with contextlib.suppress(s3.exceptions.NoSuchBucket):
        for item in s3.list_objects_v2(Bucket=bucket).get("Contents", []):
            s3.delete_object(Bucket=bucket, Key=item["Key"])
        s3.delete_bucket(Bucket=bucket)


@pytest.fixture(scope="module")
def fuzz_gateway(
    world: FuzzWorld, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GatewayProcess]:
    started = start_gateway(tmp_path_factory.mktemp("fuzz") / "gateway.log", world.env)
    try:
        yield started
    finally:
        stop_gateway(started)


async def _admin_token(gateway: GatewayProcess, world: FuzzWorld) -> str:
    email = f"fuzz-admin-{world.run}@example.com"
    async with httpx.AsyncClient(base_url=gateway.url) as client:
        registered = await client.post(
            "/users", json={"email": email, "password": PASSWORD, "name": "Fuzz"}
        )
        assert registered.status_code == 202, registered.text
        # This world's database is the test's own: promoting here stands in for the command.
        connection = await asyncpg.connect(world.database_url)
        try:
            await connection.execute("UPDATE users SET role = 'admin' WHERE email = $1", email)
        finally:
            await connection.close()
        login = await client.post("/auth/login", json={"email": email, "password": PASSWORD})
    token: str = login.json()["access_token"]
    return token


def fuzz_command(url: str, token: str, examples: int, report: Path) -> list[str]:
    return [
        str(Path(sys.executable).with_name("schemathesis")),
        "run",
        f"{url}/openapi.json",
        "--header",
        f"Authorization: Bearer {token}",
        "--checks",
        CHECKS,
        "--max-examples",
        str(examples),
        "--seed",
        "20261127",  # the same cases every run: a CI failure reproduces
        "--phases",
        "examples,coverage,fuzzing",
        "--warnings",
        "off",
        "--report",
        "junit",
        "--report-junit-path",
        str(report),
    ]


FUZZ_COMMAND = (
    "schemathesis run http://127.0.0.1:8000/openapi.json -H 'Authorization: Bearer "
    "<admin access token>' --checks all --max-examples 200"
)


async def test_the_gateway_answers_generated_requests_without_5xx_or_schema_violations(
    fuzz_gateway: GatewayProcess, world: FuzzWorld, tmp_path: Path
) -> None:
    token = await _admin_token(fuzz_gateway, world)
    command = fuzz_command(fuzz_gateway.url, token, EXAMPLES, tmp_path / "junit.xml")
    ran = await asyncio.to_thread(
        subprocess.run,
        command,
        capture_output=True,
        text=True,
        timeout=max(240, 20 * EXAMPLES),
        check=False,
        cwd=tmp_path,  # schemathesis keeps its state in ./.schemathesis
    )
    assert ran.returncode == 0, ran.stdout[-6000:] + ran.stderr[-2000:]
    selected = re.search(r"Selected: (\d+)/(\d+)", ran.stdout)
    tested = re.search(r"Tested: (\d+)", ran.stdout)
    assert selected and tested, ran.stdout[-2000:]
    assert selected.group(1) == selected.group(2) == tested.group(1)  # every operation ran
