"""Liveness, readiness and metrics.

``/readyz`` answers anyone with the status alone: 200 ``{"status": "ready"}``, or 503 as a
problem document naming what is not ready. Addresses, latencies and each check's detail (a
server version, an AWS account) are for admins only, shown when the request carries an admin's
access token. Not "from loopback": behind a proxy on the same host every caller would be
loopback, and the local stack's ``shopstream stack status`` shows the same details anyway.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any, Literal

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from api.openapi import problems
from api.problem_types import ProblemType
from api.problems import Problem, problem
from api.readiness import Readiness
from api.resources import Resources
from api.security import TokenError
from shopstream.metrics import exposition

router = APIRouter(tags=["operations"])


class DependencyPublic(BaseModel):
    name: str
    address: str
    ok: bool
    latency_ms: float
    detail: str


class ReadinessPublic(BaseModel):
    status: Literal["ready"]
    dependencies: list[DependencyPublic] | None = Field(
        default=None, description="Each check and its detail: for admins only."
    )


class NotReadyProblem(Problem):
    """What ``/readyz`` answers when a dependency does not: exactly these members."""

    model_config = ConfigDict(extra="forbid")

    not_ready: list[str] = Field(description="The dependencies that did not answer, by name")
    dependencies: list[DependencyPublic] | None = Field(
        default=None, description="Each check and its detail: for admins only."
    )


@router.get("/healthz", summary="Liveness: the process answers")
async def check_liveness() -> dict[str, str]:
    """200 while the process answers at all; it checks no dependency (``/readyz`` does)."""
    return {"status": "ok"}


def _is_admin(request: Request, resources: Resources) -> bool:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        return False
    try:
        return resources.tokens.verify(token).is_admin
    except TokenError:
        return False  # a probe with a stale token still gets its answer


@router.get(
    "/readyz",
    summary="Readiness: what this process uses answers (details for admins)",
    response_model=ReadinessPublic,
    response_model_exclude_none=True,
    responses=problems(503, model=NotReadyProblem),
)
async def check_readiness(request: Request) -> Response:
    """200 when every dependency this process uses answered its check; otherwise 503, a problem
    naming the ones that did not, with ``Retry-After``. Every caller shares the checks' results for
    a moment. An admin's access token adds each check's address, latency and detail."""
    resources: Resources = request.app.state.resources
    readiness: Readiness = request.app.state.readiness
    results = await readiness.results()
    details: dict[str, Any] = {}
    if _is_admin(request, resources):
        details["dependencies"] = [asdict(result) for result in results]
    failing = [result.name for result in results if not result.ok]
    if not failing:
        return JSONResponse({"status": "ready", **details})
    # The same shape every time: which dependencies are not ready, by name.
    response = problem(
        ProblemType.NOT_READY,
        f"Not ready: {', '.join(failing)} did not answer.",
        instance=request.url.path,
        not_ready=failing,
        **details,
    )
    response.headers["Retry-After"] = "5"
    return response


@router.get("/metrics", summary="Prometheus metrics", include_in_schema=False)
async def metrics() -> Response:
    body, content_type = exposition()
    return Response(body, media_type=content_type)
