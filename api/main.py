"""The gateway's app factory: which routers a process serves is a setting.

One image runs as several deployments (users, products, orders, live) or, locally, as one
process serving all of them; each process opens only the connections its routers need. The
live streams are a router of their own: each process that serves them reads every order's
events from Kafka, work that the order routes' processes need not do.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from api.limits import BodyLimitMiddleware
from api.observability import ObservabilityMiddleware
from api.openapi import DESCRIPTION, SERVERS, install_openapi, operation_id
from api.problems import install_problem_handlers
from api.readiness import Readiness
from api.resources import open_resources
from api.routes import cart, health, live, orders, products, users
from api.storefront import pages
from shopstream.settings import Settings, get_settings

ROUTERS = {
    "users": users.router,
    "products": products.router,
    "orders": orders.router,
    "live": live.router,
}
# Served beside a router, by the same deployment: a cart is the start of an order.
COMPANIONS = {"orders": (cart.router,)}


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with open_resources(settings) as resources:
            app.state.resources = resources
            app.state.readiness = Readiness.of(resources)
            yield

    app = FastAPI(
        title="shopstream",
        version="0.1.0",
        summary="Order processing for an online store: REST gateways over an event stream.",
        description=DESCRIPTION,
        servers=SERVERS,
        openapi_url="/openapi.json",
        docs_url="/docs",
        redoc_url=None,
        generate_unique_id_function=operation_id,
        lifespan=lifespan,
        # FastAPI's own OpenTelemetry spans, metrics and logs, off: a request's span is
        # ObservabilityMiddleware's, in the trace of the events it publishes (shopstream.tracing),
        # and the gateway's metrics are Prometheus'.
        telemetry={"tracing": False, "metrics": False, "logs": False, "operation_spans": False},
    )
    app.state.settings = settings
    install_problem_handlers(app)
    # Bodies are small JSON documents; image uploads have their own cap.
    app.add_middleware(
        BodyLimitMiddleware,
        default_limit=settings.max_body_bytes,
        limits_by_path=products.BODY_LIMITS,
    )
    app.add_middleware(ObservabilityMiddleware)
    app.include_router(health.router)
    for name in sorted(settings.gateway_routers):
        app.include_router(ROUTERS[name])
        for companion in COMPANIONS.get(name, ()):
            app.include_router(companion)
    if settings.storefront_enabled:
        pages.install(app)
    install_openapi(app)
    return app
