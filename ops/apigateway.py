"""The REST API as an Amazon API Gateway import: ``python -m ops.apigateway DIR``.

Writes ``DIR/openapi.json``, the gateway's OpenAPI document as API Gateway's REST API import
takes it (OpenAPI 3.0: paths, methods and parameters; bodies pass through untouched, so the
gateway's own models stay its business), each operation with an
``x-amazon-apigateway-integration`` that proxies to the gateway's load balancer through a VPC
link, and ``DIR/stage-throttling.json``, the stage's throttling as ``update-stage`` patch
operations (API Gateway keeps throttling on the stage, not in the document): a default for
every method and tighter limits where a request costs most (sign-in hashes a password, an
order starts a saga).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Final

# Stage variables the platform sets per stage: the VPC link's id and the internal load
# balancer's host name in front of the gateway Service.
VPC_LINK: Final = "${stageVariables.vpcLinkId}"
UPSTREAM: Final = "http://${stageVariables.gatewayHost}"
# API Gateway gives up on an integration after 29 s at most. The live streams (SSE, under
# /live) last longer; they are not in the OpenAPI document and are served by the load
# balancer directly (see the README).
TIMEOUT_MS: Final = 29_000
METHODS: Final = ("get", "put", "post", "delete", "patch", "head", "options")

# Requests per second (steady) and burst, per stage; then per method where it must be less.
DEFAULT_RATE: Final = 500
DEFAULT_BURST: Final = 1000
TIGHTER: Final = {
    ("/auth/login", "POST"): (20, 40),
    ("/users", "POST"): (10, 20),
    ("/orders", "POST"): (100, 200),
}


def _parameter(parameter: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": parameter["name"],
        "in": parameter["in"],
        "required": bool(parameter.get("required", parameter["in"] == "path")),
        "schema": {"type": "string"},
    }


def _integration(path: str, method: str, parameters: list[dict[str, Any]]) -> dict[str, Any]:
    located = {"path": "path", "query": "querystring", "header": "header"}
    return {
        "type": "http_proxy",
        "httpMethod": method.upper(),
        "uri": f"{UPSTREAM}{path}",
        "connectionType": "VPC_LINK",
        "connectionId": VPC_LINK,
        "passthroughBehavior": "when_no_match",
        "timeoutInMillis": TIMEOUT_MS,
        "requestParameters": {
            f"integration.request.{located[p['in']]}.{p['name']}": (
                f"method.request.{located[p['in']]}.{p['name']}"
            )
            for p in parameters
        },
    }


def export(document: dict[str, Any]) -> dict[str, Any]:
    """API Gateway's import of the gateway's OpenAPI ``document``."""
    paths: dict[str, Any] = {}
    for path, item in sorted(document["paths"].items()):
        methods: dict[str, Any] = {}
        for method in METHODS:
            operation = item.get(method)
            if operation is None:
                continue
            parameters = [_parameter(p) for p in operation.get("parameters", [])]
            methods[method] = {
                "operationId": operation["operationId"],
                "summary": operation.get("summary", ""),
                "tags": operation.get("tags", []),
                "parameters": parameters,
                "responses": {
                    code: {"description": response.get("description", "")}
                    for code, response in operation["responses"].items()
                },
                "x-amazon-apigateway-integration": _integration(path, method, parameters),
            }
        paths[path] = methods
    info = document["info"]
    return {
        "openapi": "3.0.1",
        "info": {
            "title": info["title"],
            "version": info["version"],
            "description": "shopstream's REST API: API Gateway in front of the gateway Service",
        },
        "paths": paths,
        # Bodies are passed through as they are; the gateway answers problem+json itself.
        "x-amazon-apigateway-binary-media-types": ["multipart/form-data", "image/*"],
    }


def _escaped(path: str) -> str:
    return path.replace("/", "~1")


def stage_throttling() -> list[dict[str, str]]:
    """``aws apigateway update-stage --patch-operations`` for the stage's throttling."""
    operations = [
        {"op": "replace", "path": "/*/*/throttling/rateLimit", "value": str(DEFAULT_RATE)},
        {"op": "replace", "path": "/*/*/throttling/burstLimit", "value": str(DEFAULT_BURST)},
    ]
    for (path, method), (rate, burst) in sorted(TIGHTER.items()):
        prefix = f"/{_escaped(path)}/{method}/throttling"
        operations.append({"op": "replace", "path": f"{prefix}/rateLimit", "value": str(rate)})
        operations.append({"op": "replace", "path": f"{prefix}/burstLimit", "value": str(burst)})
    return operations


def write(directory: Path, document: dict[str, Any]) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = {
        directory / "openapi.json": export(document),
        directory / "stage-throttling.json": stage_throttling(),
    }
    for path, content in written.items():
        path.write_text(json.dumps(content, indent=2, sort_keys=True) + "\n")
    return list(written)


def gateway_document() -> dict[str, Any]:
    """The OpenAPI document of every router, as ``python -m api openapi`` prints it."""
    # Imported here: the export needs the gateway's app, nothing else in this package does.
    from api.main import create_app
    from shopstream.settings import get_settings

    settings = get_settings().model_copy(
        update={"gateway_routers": frozenset({"users", "products", "orders"})}
    )
    document: dict[str, Any] = create_app(settings).openapi()
    return document


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m ops.apigateway DIR", file=sys.stderr)
        return 2
    for path in write(Path(argv[0]), gateway_document()):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
