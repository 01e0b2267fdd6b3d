"""schemathesis over every operation of the live gateway's OpenAPI document, signed in as a
customer and, separately, as an admin.

Each generated request must get an answer its operation documents: no 5xx, a documented status
and content type, a body and headers of the documented schemas, every error a problem document
(``application/problem+json``), invalid input refused and valid input not refused as invalid,
and no signed-in operation served without its token.

The gateway under fuzz is a real process over the stack's PostgreSQL, Kafka and moto, with a
world of its own (database, topic prefix, tables, bucket), so the generated products, users
and orders never reach the developer's system or the other tests; all of it is removed
afterwards. The cases are the same on every run (a fixed seed, no example database). The count
per operation is ``--fuzz-examples`` (tests/conftest.py), small by default for CI; the longer
run is docs/fuzzing.md's.
"""

from __future__ import annotations

import contextlib
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any, Final

import asyncpg
import boto3
import httpx
import pytest
import schemathesis
from aiokafka.admin import AIOKafkaAdminClient
from schemathesis.config import HealthCheck

from api.problem_types import ProblemType
from api.problems import PROBLEM_JSON
from ops.apigateway import gateway_document
from shopstream.settings import Settings
from tests.integration.api.conftest import (
    GatewayProcess,
    create_admin,
    register,
    sign_in,
    start_gateway,
    stop_gateway,
)

pytestmark = pytest.mark.stack

# The same cases every run: a failure in CI reproduces on a laptop.
SEED: Final = 20261127
ROLES: Final = ("customer", "admin")
# Generous: a request waits behind password hashes and a busy machine, never behind a bug.
REQUEST_TIMEOUT_S: Final = 60
GeneratedCase = schemathesis.Case[Any]


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


@pytest.fixture(scope="module")
async def fuzz_client(fuzz_gateway: GatewayProcess) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=fuzz_gateway.url, timeout=30) as opened:
        yield opened


@pytest.fixture(scope="module")
async def customer_token(fuzz_client: httpx.AsyncClient) -> str:
    return (await register(fuzz_client, "Fuzz")).access_token


@pytest.fixture(scope="module")
async def admin_token(fuzz_client: httpx.AsyncClient, world: FuzzWorld) -> str:
    email = f"fuzz-admin-{world.run}@example.com"
    await create_admin(email, world.env)  # in the world's own database
    return (await sign_in(fuzz_client, email)).access_token


@pytest.fixture(scope="module", params=ROLES)
def role(request: pytest.FixtureRequest) -> str:
    """Who the run signs in as."""
    name: str = request.param
    return name


@pytest.fixture(scope="module")
def access_token(request: pytest.FixtureRequest, role: str) -> str:
    token: str = request.getfixturevalue(f"{role}_token")
    return token


@dataclass
class Tally:
    """What one role's run sent: requests per operation, and the operations that said 2xx."""

    sent: Counter[str] = field(default_factory=Counter)
    succeeded: set[str] = field(default_factory=set)


@pytest.fixture(scope="module")
def tally(role: str) -> Iterator[Tally]:
    """The role's tally, printed at the end (``-s``). The run must have been signed in: with a
    token the gateway refused, every signed-in operation would answer a documented 401."""
    kept = Tally()
    yield kept
    counts = sorted(kept.sent.values())
    print(
        f"\nfuzz as {role}: {len(counts)} operations, {sum(counts)} requests, "
        f"{counts[0]} to {counts[-1]} per operation"
    )
    assert "GET /users/me" in kept.succeeded, f"no request as {role} was signed in"


@schemathesis.check
def errors_are_problem_documents(
    ctx: schemathesis.CheckContext, response: schemathesis.Response, case: GeneratedCase
) -> bool | None:
    """Every 4xx and 5xx, documented or not, is an RFC 9457 problem document; a 405 says in
    Allow which methods the path has (schemathesis's Allow checks pass an empty one)."""
    if response.status_code < 400:
        return None
    content_type = (response.headers.get("content-type") or [""])[0].partition(";")[0]
    if content_type.strip() != PROBLEM_JSON:
        raise AssertionError(
            f"{response.status_code} answered as {content_type or 'no content type'}, "
            f"not {PROBLEM_JSON}"
        )
    body = response.json()
    if not isinstance(body, dict) or body.get("status") != response.status_code:
        raise AssertionError(f"not a problem document of status {response.status_code}: {body}")
    missing = {"type", "title", "detail", "instance"} - body.keys()
    if missing:
        raise AssertionError(f"the problem document has no {', '.join(sorted(missing))}")
    if response.status_code == 405 and not "".join(response.headers.get("allow") or []).strip():
        raise AssertionError("a 405 names no allowed method in Allow (RFC 9110)")
    return None


# The rules the document states in words only, JSON Schema having no way to: (where, the
# refusal's message).
RULES_IN_WORDS: Final = (
    ("body.lines", "each sku may appear on one line only"),
    ("body.payment_token", "looks like a card number"),
)


def _refused_by_rules_in_words(problem: dict[str, Any]) -> bool:
    errors = problem.get("errors") or [{}]
    return all(
        any(
            error.get("location") == where and what in error.get("message", "")
            for where, what in RULES_IN_WORDS
        )
        for error in errors
    )


@schemathesis.check
def valid_requests_pass_validation(
    ctx: schemathesis.CheckContext, response: schemathesis.Response, case: GeneratedCase
) -> bool | None:
    """A request the document says is valid is never refused as invalid: the document tells
    clients every rule the gateway checks a request against.

    In place of schemathesis's positive_data_acceptance, which takes every 422 for such a
    refusal: this gateway answers 422 for what no schema can know too (an SKU the catalog does
    not have, an empty image), each with a problem type of its own (docs/problems.md).
    """
    if case.meta is None or not case.meta.generation.mode.is_positive:
        return None
    if response.status_code == 422:
        problem = response.json()
        if problem.get("type") != ProblemType.INVALID_REQUEST.uri:
            return None
        if _refused_by_rules_in_words(problem):
            return None
    elif response.status_code != 400:
        return None
    raise AssertionError(
        f"a request valid by the document was refused ({response.status_code}): "
        f"{response.text[:500]}"
    )


def _fuzzed_schema() -> schemathesis.BaseSchema:
    """The document every gateway serves (``python -m api openapi``), and how to fuzz it.

    Loaded when the module is, since schemathesis makes a test of each operation at
    collection; the gateway's address and a token are given to each request. The example count
    comes from the Hypothesis profile tests/conftest.py loads for ``--fuzz-examples``.
    """
    config = schemathesis.Config(
        seed=SEED,
        # Slow examples and large bodies are this machine's business, not a defect.
        suppress_health_check=[HealthCheck.all],
    )
    schema = schemathesis.openapi.from_dict(gateway_document(), config=config)
    schema.config.update(request_timeout=REQUEST_TIMEOUT_S)
    schema.config.generation.update(database="none")
    # Every check but positive_data_acceptance (see valid_requests_pass_validation), ours
    # among them; max_response_time is off: no timing assertions.
    schema.config.checks.update(
        included_check_names=["all"], excluded_check_names=["positive_data_acceptance"]
    )
    return schema


fuzzed = _fuzzed_schema()

# schemathesis makes most cases when it collects the module, before any role has signed in:
# their Authorization is this stand-in, which a request swaps for the role's access token. A case
# made without it (no token, or one made up) goes as it was made.
STAND_IN_TOKEN: Final = "Bearer role-access-token"


@fuzzed.auth(refresh_interval=None)
class RoleToken:
    def get(self, case: GeneratedCase, ctx: schemathesis.AuthContext) -> str:
        return STAND_IN_TOKEN

    def set(self, case: GeneratedCase, data: str, ctx: schemathesis.AuthContext) -> None:
        case.headers["Authorization"] = data


async def test_the_fuzzed_document_is_the_one_the_gateway_serves(
    fuzz_client: httpx.AsyncClient,
) -> None:
    served = (await fuzz_client.get("/openapi.json")).json()
    assert served == fuzzed.raw_schema


@fuzzed.parametrize()
def test_every_operation_answers_generated_requests_as_its_document_says(
    case: GeneratedCase, fuzz_gateway: GatewayProcess, access_token: str, tally: Tally
) -> None:
    signed_in = case.headers.get("Authorization") == STAND_IN_TOKEN
    # Given with the call: a case is shared by the roles' runs, so it must not be changed.
    headers = {"Authorization": f"Bearer {access_token}"} if signed_in else None
    tally.sent[case.operation.label] += 1
    response = case.call_and_validate(base_url=fuzz_gateway.url, headers=headers)
    if 200 <= response.status_code < 300:
        tally.succeeded.add(case.operation.label)
