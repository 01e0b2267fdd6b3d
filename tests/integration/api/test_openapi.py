"""The OpenAPI document: 3.1, problem+json errors, an example for every JSON body, and one
command that exports it."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import uuid
from typing import Any

import httpx

from tests.integration.api.conftest import (
    Catalog,
    GatewayProcess,
    Person,
    order_body,
    place,
    undocumented_headers,
)


def _resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    if "anyOf" in schema:  # an optional body: the model or null
        schema = next(option for option in schema["anyOf"] if "$ref" in option)
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = document["components"]["schemas"][name]
    return schema


async def test_the_document_is_openapi_3_1_with_problem_errors_and_examples(
    client: httpx.AsyncClient,
) -> None:
    document = (await client.get("/openapi.json")).json()
    assert document["openapi"].startswith("3.1")
    operations = [
        (f"{method.upper()} {path}", operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
    ]
    assert len(operations) >= 20
    for name, operation in operations:
        for status, response in operation["responses"].items():
            if int(status) >= 400:
                assert list(response["content"]) == ["application/problem+json"], (name, status)
        body = operation.get("requestBody", {}).get("content", {}).get("application/json")
        if body is not None:
            assert _resolve(document, body["schema"]).get("examples"), name
    docs = await client.get("/docs")
    assert docs.status_code == 200


async def test_one_command_exports_the_document(gateway: GatewayProcess) -> None:
    exported = await asyncio.create_subprocess_exec(
        sys.executable,
        *("-m", "api", "openapi"),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=os.environ,
    )
    out, err = await asyncio.wait_for(exported.communicate(), 120)
    assert exported.returncode == 0, err.decode()
    async with httpx.AsyncClient(base_url=gateway.url) as client:
        served = (await client.get("/openapi.json")).json()
    assert json.loads(out) == served


async def test_the_headers_a_client_acts_on_are_documented_where_they_are_sent(
    client: httpx.AsyncClient, catalog: Catalog, customer: Person
) -> None:
    sku = await catalog.add(stock=5)
    body = order_body((sku, 1))
    placed = await place(client, customer, body, key="same-key")
    replayed = await place(client, customer, body, key="same-key")
    created = await client.post(
        "/products",
        json={
            "sku": f"T-{uuid.uuid4().hex[:12]}",
            "name": "Mug",
            "category": "kitchen",
            "description": "A mug.",
            "price_cents": 900,
        },
        headers=catalog.admin.headers,
    )
    signed_out = await client.get("/orders")
    assert replayed.headers["Idempotent-Replayed"] == "true"
    assert (placed.status_code, created.status_code, signed_out.status_code) == (202, 201, 401)
    for response in (placed, replayed, created, signed_out):
        assert "Location" in response.headers or response.status_code == 401
        assert undocumented_headers(response) == [], response.request.url
