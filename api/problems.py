"""Every error leaves the gateway as ``application/problem+json`` (RFC 9457)."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from shopstream.logs import get_logger

PROBLEM_JSON = "application/problem+json"
log = get_logger(__name__)


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


async def _http_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, HTTPException)
    detail = (
        error.detail if isinstance(error.detail, str) else HTTPStatus(error.status_code).description
    )
    if error.status_code == 404 and error.detail == "Not Found":
        detail = f"No resource at {request.url.path}."
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
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _unexpected_error)
