"""Every error leaves the gateway as ``application/problem+json`` (RFC 9457).

Services raise ``ApiError`` with the kind of problem (``api.problem_types``), which gives its
``type`` URI, status and title; the handlers here turn it, and every framework error (400,
404, 405, 413, 422, 500), into a problem document whose ``instance`` is the request's path.
``Problem`` is the document's schema, which ``api.openapi`` puts on every error response of
the OpenAPI.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any, Final

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException
from starlette.routing import Match

from api.problem_types import BLANK_TYPE, FRAMEWORK_TYPES, ProblemType
from shopstream.logs import get_logger

PROBLEM_JSON = "application/problem+json"
log = get_logger(__name__)


class Problem(BaseModel):
    """An RFC 9457 problem document; validation errors add ``errors``."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(
        description="The kind of problem: a URI of its own, each documented in docs/problems.md "
        "(about:blank only for a framework error with no kind of its own)",
        examples=[ProblemType.OUT_OF_STOCK.uri],
    )
    title: str = Field(description="The kind's title, the same on every occurrence")
    status: int
    detail: str
    instance: str = Field(description="The path of the request that met the problem")


class ApiError(Exception):
    """A refusal a service decides on; becomes a problem document of its ``kind``."""

    def __init__(
        self,
        kind: ProblemType,
        detail: str,
        *,
        retry_after_s: int | None = None,
        **extensions: Any,
    ) -> None:
        super().__init__(detail)
        self.kind = kind
        self.detail = detail
        self.extensions = extensions
        self.headers: dict[str, str] = {}
        if kind.status == 401:
            # RFC 6750: a 401 for a bearer-protected resource names the scheme, and why.
            self.headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
        if kind.status in (429, 503):
            self.headers["Retry-After"] = str(retry_after_s or 1)

    @property
    def status(self) -> int:
        return self.kind.status


def problem(
    kind: ProblemType | int, detail: str, *, instance: str, **extensions: Any
) -> JSONResponse:
    """A problem document of ``kind``; a bare status is a framework error's (api.problem_types)."""
    if isinstance(kind, int):
        kind = FRAMEWORK_TYPES.get(kind, kind)
    if isinstance(kind, ProblemType):
        status, type_, title = kind.status, kind.uri, kind.title
    else:
        status, type_, title = kind, BLANK_TYPE, HTTPStatus(kind).phrase
    body = {
        "type": type_,
        "title": title,
        "status": status,
        "detail": detail,
        "instance": instance,
        **extensions,
    }
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON)


def _where(location: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in location)


async def _api_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, ApiError)
    response = problem(error.kind, error.detail, instance=request.url.path, **error.extensions)
    response.headers.update(error.headers)
    return response


async def _http_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, HTTPException)
    detail = (
        error.detail if isinstance(error.detail, str) else HTTPStatus(error.status_code).description
    )
    if error.status_code == 404 and error.detail == "Not Found":
        detail = f"No resource at {request.url.path}."
    if error.status_code == 400 and error.detail == "There was an error parsing the body":
        detail = "The body cannot be parsed: send JSON (UTF-8) or the form the route documents."
    if error.status_code == 405:
        detail = f"{request.method} is not allowed on {request.url.path}."
    response = problem(error.status_code, detail, instance=request.url.path)
    for name, value in (error.headers or {}).items():
        response.headers[name] = value
    if error.status_code == 405:
        response.headers["Allow"] = _allowed_methods(request)
    return response


# The methods a route may be for (OPTIONS and TRACE none is here).
_METHODS: Final = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")


def _allowed_methods(request: Request) -> str:
    """Every method the path has a route for (RFC 9110's ``Allow``). Starlette names those of
    the first route that matches the path only, and one path often has a route per method."""
    routes = request.app.router.routes
    return ", ".join(
        method
        for method in sorted(_METHODS)
        if any(
            route.matches({**request.scope, "method": method})[0] is Match.FULL for route in routes
        )
    )


async def _validation_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    errors = [
        {"location": _where(item["loc"]), "message": item["msg"], "type": item["type"]}
        for item in error.errors()
    ]
    summary = "; ".join(f"{item['location']}: {item['message']}" for item in errors)
    return problem(
        422, f"The request is not valid: {summary}", instance=request.url.path, errors=errors
    )


async def _unexpected_error(request: Request, error: Exception) -> JSONResponse:
    log.exception("unhandled error", path=request.url.path)
    return problem(
        500,
        "An unexpected error occurred; it has been logged with the trace id.",
        instance=request.url.path,
    )


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _unexpected_error)
