"""Liveness, readiness (each dependency with its latency) and metrics."""

from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from shopstream.health import check_all
from shopstream.metrics import DEPENDENCY_UP, exposition
from shopstream.settings import Settings

router = APIRouter(tags=["operations"])


@router.get("/healthz", summary="Liveness: the process answers")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    summary="Readiness: every dependency answers a real round trip",
    responses={503: {"description": "At least one dependency is not ready"}},
)
async def readyz(request: Request) -> JSONResponse:
    settings: Settings = request.app.state.settings
    results = await check_all(settings)
    for result in results:
        DEPENDENCY_UP.labels(result.name, str(result.ok).lower()).observe(result.latency_ms / 1000)
    ready = all(result.ok for result in results)
    return JSONResponse(
        {
            "status": "ready" if ready else "not ready",
            "dependencies": [asdict(result) for result in results],
        },
        status_code=200 if ready else 503,
    )


@router.get("/metrics", summary="Prometheus metrics", include_in_schema=False)
async def metrics() -> Response:
    body, content_type = exposition()
    return Response(body, media_type=content_type)
