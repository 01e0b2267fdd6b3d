"""The OpenAPI document's conventions: operation ids, tag descriptions, documented headers,
and Spectral's verdict on the whole document under lint/spectral.yaml."""

from __future__ import annotations

import copy
import json
import re
import subprocess
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from api.main import create_app
from api.openapi import OPERATION_ID_PATTERN
from shopstream.settings import REPO_ROOT, Settings

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


# Spectral, as `make lint` runs it (stack/bootstrap.sh links it into .venv/bin).
SPECTRAL = REPO_ROOT / ".venv" / "bin" / "spectral"
RULESET = REPO_ROOT / "lint" / "spectral.yaml"


def _spectral(document: dict[str, Any], folder: Path) -> list[dict[str, Any]]:
    """Spectral's findings on ``document`` under the project's ruleset, warnings included."""
    assert SPECTRAL.exists(), "spectral is missing: run make install"
    linted, report = folder / "openapi.json", folder / "findings.json"
    linted.write_text(json.dumps(document, indent=2))
    command = [str(SPECTRAL), "lint", "--ruleset", str(RULESET), str(linted)]
    ran = subprocess.run(
        [*command, "--format", "json", "--output", str(report)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert ran.returncode in (0, 1), ran.stderr
    findings: list[dict[str, Any]] = json.loads(report.read_text())
    return findings


def test_the_document_passes_spectral_with_the_projects_ruleset(
    document: dict[str, Any], tmp_path: Path
) -> None:
    findings = _spectral(document, tmp_path)
    assert [(f["code"], ".".join(map(str, f["path"])), f["message"]) for f in findings] == []


Key = str | int
Change = Callable[[dict[str, Any]], None]


def _at(document: Any, keys: Sequence[Key]) -> Any:
    for key in keys:
        document = document[key]
    return document


def _remove(*keys: Key) -> Change:
    def remove(document: dict[str, Any]) -> None:
        *parents, last = keys
        del _at(document, parents)[last]

    return remove


def _set(value: Any, *keys: Key) -> Change:
    def put(document: dict[str, Any]) -> None:
        *parents, last = keys
        _at(document, parents)[last] = value

    return put


_CANCEL = ("paths", "/orders/{order_id}/cancel", "post", "responses")
_PLACE = ("paths", "/orders", "post", "responses")
_MY_ORDERS = ("paths", "/orders", "get", "responses")
_PROBLEM = {"schema": {"$ref": "#/components/schemas/Problem"}}
_REPLAYED = {"Idempotent-Replayed": {"schema": {"type": "string"}}}
# Each rule of ours, a break it is written to find, and where it reports it.
BREAKS: list[tuple[str, Change, tuple[Key, ...]]] = [
    (
        "operation-id-camel-case",
        _set("Get_cart", "paths", "/cart", "get", "operationId"),
        ("paths", "/cart", "get", "operationId"),
    ),
    (
        "operation-summary",
        _remove("paths", "/cart", "delete", "summary"),
        ("paths", "/cart", "delete"),
    ),
    ("tag-description", _remove("tags", 0, "description"), ("tags", 0)),
    (
        "error-responses-are-problems",
        _set({"application/json": _PROBLEM}, *_MY_ORDERS, "401", "content"),
        (*_MY_ORDERS, "401", "content"),
    ),
    (
        "retry-after-on-429-and-503",
        _remove(*_CANCEL, "429", "headers", "Retry-After"),
        (*_CANCEL, "429", "headers"),
    ),
    ("www-authenticate-on-401", _remove(*_CANCEL, "401", "headers"), (*_CANCEL, "401")),
    (
        "location-on-201",
        _remove("paths", "/products", "post", "responses", "201", "headers"),
        ("paths", "/products", "post", "responses", "201"),
    ),
    ("location-on-accepted-order-commands", _remove(*_CANCEL, "202", "headers"), (*_CANCEL, "202")),
    (
        "idempotent-replayed-where-keys-are-taken",
        _remove(*_PLACE, "202", "headers", "Idempotent-Replayed"),
        (*_PLACE, "202", "headers"),
    ),
    (
        "idempotent-replayed-where-keys-are-taken",
        _set(_REPLAYED, *_MY_ORDERS, "200", "headers"),
        (*_MY_ORDERS, "200", "headers"),
    ),
]


def test_each_rule_of_ours_finds_the_break_it_is_written_for(
    document: dict[str, Any], tmp_path: Path
) -> None:
    # A rule whose JSONPath matches nothing passes every document: each must be seen to fail.
    broken = copy.deepcopy(document)
    for _, change, _ in BREAKS:
        change(broken)
    found = {(f["code"], tuple(map(str, f["path"]))) for f in _spectral(broken, tmp_path)}
    missed = [
        (rule, path) for rule, _, path in BREAKS if (rule, tuple(map(str, path))) not in found
    ]
    assert missed == [], sorted(found)
