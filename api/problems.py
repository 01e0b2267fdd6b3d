"""Every error leaves the gateway as ``application/problem+json`` (RFC 9457).

Services raise ``ApiError`` (or one of its named statuses); the handlers here turn it, and
every framework error (404, 405, 413, 422, 500), into a problem document. ``Problem`` is the
document's schema, which ``api.openapi`` puts on every error response of the OpenAPI.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from starlette.exceptions import HTTPException

from shopstream.logs import get_logger

PROBLEM_JSON = "application/problem+json"
log = get_logger(__name__)


class Problem(BaseModel):
    """An RFC 9457 problem document; validation errors add ``errors``."""

    model_config = ConfigDict(extra="allow")

    type: str = "about:blank"
    title: str
    status: int
    detail: str


class ApiError(Exception):
    """A refusal a service decides on; becomes a problem document with ``status``."""

    status = 400

    def __init__(
        self,
        detail: str,
        *,
        status: int | None = None,
        headers: dict[str, str] | None = None,
        **extensions: Any,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        if status is not None:
            self.status = status
        self.headers = headers or {}
        self.extensions = extensions


class Unauthorized(ApiError):
    status = 401

    def __init__(self, detail: str) -> None:
        # RFC 6750: a 401 for a bearer-protected resource names the scheme, and why.
        super().__init__(detail, headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})


class Forbidden(ApiError):
    status = 403


class NotFound(ApiError):
    status = 404


class Conflict(ApiError):
    status = 409


class Unprocessable(ApiError):
    status = 422


class TooManyRequests(ApiError):
    status = 429

    def __init__(self, detail: str, retry_after_s: int) -> None:
        super().__init__(detail, headers={"Retry-After": str(retry_after_s)})


class Unavailable(ApiError):
    status = 503

    def __init__(self, detail: str, retry_after_s: int = 1) -> None:
        super().__init__(detail, headers={"Retry-After": str(retry_after_s)})


def problem(
    status: int, detail: str, *, title: str | None = None, **extensions: Any
) -> JSONResponse:
    body = {
        "type": "about:blank",
        "title": title or HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        **extensions,
    }
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON)


def _where(location: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in location)


async def _api_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, ApiError)
    response = problem(error.status, error.detail, **error.extensions)
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
    response = problem(error.status_code, detail)
    for name, value in (error.headers or {}).items():
        response.headers[name] = value
    return response


async def _validation_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    errors = [
        {"location": _where(item["loc"]), "message": item["msg"], "type": item["type"]}
        for item in error.errors()
    ]
    summary = "; ".join(f"{item['location']}: {item['message']}" for item in errors)
    return problem(422, f"The request is not valid: {summary}", errors=errors)


async def _unexpected_error(request: Request, error: Exception) -> JSONResponse:
    log.exception("unhandled error", path=request.url.path)
    return problem(500, "An unexpected error occurred; it has been logged with the trace id.")


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _unexpected_error)
