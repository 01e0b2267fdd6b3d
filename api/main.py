"""The gateway's app factory."""

from __future__ import annotations

from fastapi import FastAPI

from api.observability import ObservabilityMiddleware
from api.problems import install_problem_handlers
from api.routes import health
from shopstream.settings import Settings, get_settings


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    app = FastAPI(
        title="shopstream",
        version="0.1.0",
        summary="Order processing for an online store: REST gateways over an event stream.",
        openapi_url="/openapi.json",
        docs_url="/docs",
        redoc_url=None,
    )
    app.state.settings = settings
    install_problem_handlers(app)
    app.add_middleware(ObservabilityMiddleware)
    app.include_router(health.router)
    return app
