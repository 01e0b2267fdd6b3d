"""The storefront's pages as the app serves them, before anything is opened: page shells
under a strict Content-Security-Policy, and their scripts and styles from the gateway itself."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from api.storefront.pages import HERE
from shopstream.settings import Settings

PAGES = [
    "/shop/",
    "/shop/products/MUG-01",
    "/shop/cart",
    "/shop/checkout",
    "/shop/orders",
    "/shop/orders/ord_1",
    "/shop/orders/ord_1/confirmation",
    "/shop/login",
    "/shop/register",
    "/shop/preferences",
    "/shop/admin",
]


@pytest.fixture(scope="module")
def client() -> TestClient:
    return TestClient(create_app(Settings()))  # no lifespan: pages need no connections


@pytest.mark.parametrize("path", PAGES)
def test_each_page_is_a_shell_under_a_strict_content_security_policy(
    client: TestClient, path: str
) -> None:
    response = client.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    policy = response.headers["content-security-policy"]
    assert "script-src 'self';" in policy
    assert "frame-ancestors 'none'" in policy
    assert '<script type="module" src="/static/js/app.js">' in response.text
    assert "<script>" not in response.text  # no inline script: the policy would refuse it


def test_every_form_field_has_a_label(client: TestClient) -> None:
    for path in PAGES:
        page = client.get(path).text
        labelled = set(re.findall(r'<label for="([^"]+)"', page))
        fields = set(re.findall(r'<(?:input|select)[^>]* id="([^"]+)"', page))
        assert fields <= labelled, (path, fields - labelled)


def test_a_malformed_id_in_a_page_address_is_refused(client: TestClient) -> None:
    assert client.get("/shop/products/not a sku").status_code == 422
    assert client.get("/shop/orders/ord%201").status_code == 422


def test_the_home_page_is_the_catalog(client: TestClient) -> None:
    response = client.get("/", follow_redirects=False)
    assert response.status_code == 307
    assert response.headers["location"] == "/shop/"


def test_every_script_and_the_stylesheet_are_served_locally(client: TestClient) -> None:
    static = HERE / "static"
    assets = [path.relative_to(static).as_posix() for path in static.rglob("*.*")]
    assert "js/app.js" in assets and "app.css" in assets
    for asset in assets:
        response = client.get(f"/static/{asset}")
        assert response.status_code == 200, asset
        assert "http://" not in response.text and "https://" not in response.text, asset


def test_the_pages_are_left_out_of_the_api_document() -> None:
    paths = create_app(Settings()).openapi()["paths"]
    assert not [path for path in paths if path.startswith(("/shop", "/static", "/live"))]
    assert "/cart" in paths
