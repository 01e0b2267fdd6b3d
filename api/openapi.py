"""The OpenAPI document: operation ids, tags, headers, problem+json on every error response.

FastAPI documents an error response's model under ``application/json`` and validation errors
as its own ``HTTPValidationError``; this gateway answers every error as
``application/problem+json`` with the ``Problem`` schema, so the document is rewritten to say
exactly that (API Gateway and schemathesis both read it literally).

Every operation's id is its route function's name in camelCase (``place_order`` is
``placeOrder``): one rule, so a generated client's method names read like the routes, and a
route renamed is an id renamed on purpose. The response headers a client acts on (where the
new resource is, whether an answer is a replay, when to try again) are documented on the
responses that send them. ``make lint`` holds the document to these conventions with Spectral
(``lint/spectral.yaml``).
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any, Final

from fastapi import FastAPI
from fastapi.routing import APIRoute

from api.problems import PROBLEM_JSON, Problem

_PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
OPERATION_ID_PATTERN: Final = r"^[a-z]+(?:[A-Z][a-z0-9]*)+$"

# The document's introduction: what every operation shares, said once.
DESCRIPTION: Final = """\
Order processing for an online store: the catalog, carts, orders and accounts.

**Signing in.** `POST /auth/login` gives an access token, sent as `Authorization: Bearer
<token>`, and a refresh token for `POST /auth/refresh`. Browsing the catalog needs neither.

**Errors.** Every 4xx and 5xx answer is a problem document (`application/problem+json`,
RFC 9457); its `type` names the kind of problem, whatever the status. A 429 or a 503 says in
`Retry-After` when to try again.

**Orders.** An order and every change to it are answered 202 once the event stream has them;
the order they name (`Location`) shows the outcome. Send a fresh `Idempotency-Key` with each
new order and the same one with its retries: a retry gets the first answer again, marked
`Idempotent-Replayed: true`, never a second order.
"""
# Where the gateway is: wherever the document was read from, behind whichever load balancer.
SERVERS: Final = [{"url": "/", "description": "The gateway that serves this document"}]

TAGS: Final = [
    {"name": "orders", "description": "Place an order, follow it through the saga, change it."},
    {"name": "cart", "description": "The signed-in customer's cart, kept by the gateway."},
    {"name": "products", "description": "The catalog: browse it; admins edit it and its stock."},
    {"name": "users", "description": "Accounts, sign-in sessions and notification preferences."},
    {"name": "admin", "description": "What only admins may see across every customer."},
    {"name": "operations", "description": "Liveness and readiness, for probes."},
]


def _header(description: str) -> dict[str, Any]:
    return {"description": description, "schema": {"type": "string"}}


LOCATION: Final = {"Location": _header("Where the resource can be read")}
IDEMPOTENT_REPLAYED: Final = {
    "Idempotent-Replayed": _header(
        "`true` when this is the first answer to an earlier request with the same "
        "Idempotency-Key, sent again; absent on the first answer"
    )
}
RETRY_AFTER: Final = {
    "Retry-After": {
        "description": "Seconds to wait before trying again",
        "schema": {"type": "integer", "minimum": 1},
    }
}
WWW_AUTHENTICATE: Final = {
    "WWW-Authenticate": _header("The scheme to authenticate with (RFC 6750), and why not now")
}
# The headers every problem of a status carries (api.problems sends them).
_PROBLEM_HEADERS: Final = {401: WWW_AUTHENTICATE, 429: RETRY_AFTER, 503: RETRY_AFTER}


def operation_id(route: APIRoute) -> str:
    """The route function's name in camelCase: ``list_my_orders`` is ``listMyOrders``."""
    first, *rest = route.name.strip("_").split("_")
    return first + "".join(word.capitalize() for word in rest)


def problems(*statuses: int, model: type[Problem] = Problem) -> dict[int | str, dict[str, Any]]:
    """``responses=`` entries documenting these error statuses as problem documents: ``model``
    when a route's problem has members of its own (its name ends in ``Problem``)."""
    assert model.__name__.endswith("Problem"), model
    responses: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        responses[status] = {"model": model, "description": HTTPStatus(status).phrase}
        if status in _PROBLEM_HEADERS:
            responses[status]["headers"] = _PROBLEM_HEADERS[status]
    return responses


def install_openapi(app: FastAPI) -> None:
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            _as_problems(generate())
        assert app.openapi_schema is not None
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _problem_schema(response: dict[str, Any]) -> dict[str, Any]:
    """The problem model ``problems()`` declared for the response; ``Problem`` for the rest
    (FastAPI's own validation error model among them)."""
    declared = response.get("content", {}).get("application/json", {}).get("schema", {})
    if declared.get("$ref", "").endswith("Problem"):
        return {"$ref": declared["$ref"]}
    return _PROBLEM_REF


def _as_problems(schema: dict[str, Any]) -> None:
    for path in schema.get("paths", {}).values():
        for operation in path.values():
            responses = operation.setdefault("responses", {})
            if "requestBody" in operation:
                # A body that is not UTF-8 JSON at all is refused before validation.
                responses.setdefault("400", {"description": "The body cannot be parsed"})
            for status, response in responses.items():
                if status.isdigit() and int(status) >= 400:
                    response["content"] = {PROBLEM_JSON: {"schema": _problem_schema(response)}}
                    if status == "422":
                        response["description"] = "The request is not valid"
    used = {
        tag
        for path in schema.get("paths", {}).values()
        for op in path.values()
        for tag in op.get("tags", [])
    }
    schema["tags"] = [tag for tag in TAGS if tag["name"] in used]
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components.setdefault("Problem", Problem.model_json_schema())
    for unused in ("HTTPValidationError", "ValidationError"):
        components.pop(unused, None)
