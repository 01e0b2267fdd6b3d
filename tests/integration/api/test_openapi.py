"""The OpenAPI document: 3.1, problem+json errors, an example for every JSON body, and one
command that exports it."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from typing import Any

import httpx

from tests.integration.api.conftest import GatewayProcess


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
