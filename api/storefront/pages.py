"""The storefront's pages: server-rendered shells that its scripts fill from the public REST
API and the live stream. No page reads a database: what a browser sees, a REST client can get.

Every page is sent with a strict Content-Security-Policy (scripts and styles from this origin
only, no inline script): the access token lives in the tab's sessionStorage, and this is what
keeps injected markup from running code that could read it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Final

from fastapi import APIRouter, FastAPI, Request
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from api.routes.orders import ORDER_ID_PATTERN
from api.schemas.common import SKU_PATTERN

HERE: Final = Path(__file__).resolve().parent
SECURITY_HEADERS: Final = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; connect-src 'self'; "
        "img-src 'self' data: http: https:; object-src 'none'; base-uri 'self'; "
        "form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}

templates = Jinja2Templates(directory=HERE / "templates")
router = APIRouter(prefix="/shop", include_in_schema=False)


def _page(request: Request, template: str, title: str, **context: str) -> HTMLResponse:
    response = templates.TemplateResponse(
        request, template, {"title": title, "page": template.removesuffix(".html"), **context}
    )
    response.headers.update(SECURITY_HEADERS)
    return response


@router.get("/")
async def catalog(request: Request) -> HTMLResponse:
    return _page(request, "catalog.html", "Shop")


@router.get("/products/{sku}")
async def product(
    request: Request, sku: Annotated[str, PathParam(pattern=SKU_PATTERN)]
) -> HTMLResponse:
    return _page(request, "product.html", "Product", sku=sku)


@router.get("/cart")
async def cart(request: Request) -> HTMLResponse:
    return _page(request, "cart.html", "Your cart")


@router.get("/checkout")
async def checkout(request: Request) -> HTMLResponse:
    return _page(request, "checkout.html", "Checkout")


@router.get("/orders")
async def my_orders(request: Request) -> HTMLResponse:
    return _page(request, "orders.html", "My orders")


@router.get("/orders/{order_id}")
async def order(
    request: Request, order_id: Annotated[str, PathParam(pattern=ORDER_ID_PATTERN)]
) -> HTMLResponse:
    return _page(request, "order.html", f"Order {order_id}", order_id=order_id)


@router.get("/orders/{order_id}/confirmation")
async def confirmation(
    request: Request, order_id: Annotated[str, PathParam(pattern=ORDER_ID_PATTERN)]
) -> HTMLResponse:
    return _page(request, "confirmation.html", "Thank you", order_id=order_id)


@router.get("/preferences")
async def preferences(request: Request) -> HTMLResponse:
    return _page(request, "preferences.html", "Notifications")


@router.get("/login")
async def login(request: Request) -> HTMLResponse:
    return _page(request, "login.html", "Sign in")


@router.get("/register")
async def register(request: Request) -> HTMLResponse:
    return _page(request, "register.html", "Create an account")


@router.get("/admin")
async def admin(request: Request) -> HTMLResponse:
    return _page(request, "admin.html", "Admin")


async def _home() -> RedirectResponse:
    return RedirectResponse("/shop/")


def install(app: FastAPI) -> None:
    app.include_router(router)
    app.add_api_route("/", _home, include_in_schema=False)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
