"""One image, several deployments: a process serves the routers its settings name, and login
and registration are rate limited across replicas (the counters live in DynamoDB)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import boto3
import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from shopstream.settings import Settings
from tests.integration.api.conftest import PASSWORD


def test_a_products_deployment_serves_products_only(stack_settings: Settings) -> None:
    settings = stack_settings.model_copy(update={"gateway_routers": frozenset({"products"})})
    with TestClient(create_app(settings)) as client:
        assert client.get("/products").status_code == 200
        assert client.get("/users/me").status_code == 404
        assert client.post("/orders", json={}).status_code == 404
        assert client.get("/healthz").status_code == 200
        paths = client.get("/openapi.json").json()["paths"]
    assert {path.split("/")[1] for path in paths} == {"products", "healthz", "readyz"}


@pytest.fixture
def limited(stack_settings: Settings) -> Iterator[TestClient]:
    """A users-only gateway with small limits and a rate-limit table of its own."""
    settings = stack_settings.model_copy(
        update={
            "gateway_routers": frozenset({"users"}),
            "rate_limit_table": f"test-rate-limits-{uuid.uuid4().hex[:10]}",
            "registrations_per_window": 2,
            "login_attempts_per_window": 3,
            "rate_limit_window_s": 600,
        }
    )
    try:
        with TestClient(create_app(settings)) as client:
            yield client
    finally:
        dynamodb = boto3.client(
            "dynamodb",
            endpoint_url=settings.aws_endpoint_url,
            region_name=settings.aws_region,
        )
        dynamodb.delete_table(TableName=settings.rate_limit_table)


def test_registration_is_rate_limited_per_client_address(limited: TestClient) -> None:
    answers = [
        limited.post(
            "/users",
            json={
                "email": f"r-{uuid.uuid4().hex[:10]}@example.com",
                "password": PASSWORD,
                "name": "R",
            },
        )
        for _ in range(3)
    ]
    assert [answer.status_code for answer in answers] == [202, 202, 429]
    refused = answers[-1]
    assert refused.headers["content-type"] == "application/problem+json"
    assert 0 < int(refused.headers["retry-after"]) <= 600


def test_login_is_rate_limited_per_address_and_email(limited: TestClient) -> None:
    email = f"l-{uuid.uuid4().hex[:10]}@example.com"
    limited.post("/users", json={"email": email, "password": PASSWORD, "name": "L"})
    wrong = [
        limited.post("/auth/login", json={"email": email, "password": "guess"}) for _ in range(3)
    ]
    right = limited.post("/auth/login", json={"email": email, "password": PASSWORD})
    other_account = limited.post("/auth/login", json={"email": f"x-{email}", "password": PASSWORD})
    assert [answer.status_code for answer in wrong] == [401, 401, 401]
    assert right.status_code == 429  # even the right password waits: guessing is what is slowed
    assert "retry-after" in right.headers
    assert other_account.status_code == 401  # another account is not locked by this one
