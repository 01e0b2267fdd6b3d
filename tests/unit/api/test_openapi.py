"""The OpenAPI document's conventions: operation ids, tag descriptions, documented headers."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from api.main import create_app
from api.openapi import OPERATION_ID_PATTERN
from shopstream.settings import Settings

ALL_ROUTERS = frozenset({"users", "products", "orders"})


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return create_app(Settings(gateway_routers=ALL_ROUTERS)).openapi()


def _operations(document: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            yield f"{method.upper()} {path}", operation


def test_every_operation_has_a_unique_camel_case_operation_id(document: dict[str, Any]) -> None:
    ids = [operation["operationId"] for _, operation in _operations(document)]
    assert len(ids) >= 30
    assert [i for i in ids if not re.fullmatch(OPERATION_ID_PATTERN, i)] == []
    assert len(set(ids)) == len(ids)


def test_operation_ids_are_the_route_functions_names_in_camel_case(
    document: dict[str, Any],
) -> None:
    ids = {name: operation["operationId"] for name, operation in _operations(document)}
    assert ids["POST /orders"] == "placeOrder"
    assert ids["GET /orders/{order_id}"] == "getOrder"
    assert ids["GET /products"] == "listProducts"
    assert ids["DELETE /cart/lines/{sku}"] == "removeCartLine"


def test_every_tag_in_use_is_described_and_no_other(document: dict[str, Any]) -> None:
    used = {tag for _, operation in _operations(document) for tag in operation["tags"]}
    described = {tag["name"]: tag["description"] for tag in document["tags"]}
    assert set(described) == used
    assert all(described.values())


def test_a_process_describes_only_the_tags_of_the_routers_it_serves() -> None:
    document = create_app(Settings(gateway_routers=frozenset({"products"}))).openapi()
    assert {tag["name"] for tag in document["tags"]} == {"products", "operations"}


def test_headers_a_client_acts_on_are_documented_on_every_response_that_sends_them(
    document: dict[str, Any],
) -> None:
    # What api.problems and the routes send: a 401 names its scheme, a 429 or 503 says when
    # to come back, a 201 says where the new resource is.
    always = {"401": "WWW-Authenticate", "429": "Retry-After", "503": "Retry-After"}
    always["201"] = "Location"
    for name, operation in _operations(document):
        for status, response in operation["responses"].items():
            if status in always:
                assert always[status] in response.get("headers", {}), (name, status)
    place = document["paths"]["/orders"]["post"]["responses"]["202"]["headers"]
    assert {"Location", "Idempotent-Replayed"} <= set(place)
    for path in ("/orders/{order_id}/cancel", "/orders/{order_id}/payment"):
        assert "Location" in document["paths"][path]["post"]["responses"]["202"]["headers"]
    assert (
        "Location"
        in document["paths"]["/orders/{order_id}"]["patch"]["responses"]["202"]["headers"]
    )
