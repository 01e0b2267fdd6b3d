"""The app as built, before anything is opened: its OpenAPI, its body caps, its secret."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import SecretStr

from api.limits import BodyLimitMiddleware
from api.main import create_app
from api.resources import check_secret
from api.services.products import image_type, image_url
from shopstream.settings import Settings


def test_every_error_response_in_the_openapi_is_a_problem_document() -> None:
    document = create_app(Settings()).openapi()
    problem = document["components"]["schemas"]["Problem"]
    for path, item in document["paths"].items():
        for method, operation in item.items():
            for status, response in operation["responses"].items():
                if int(status) >= 400:
                    assert list(response["content"]) == ["application/problem+json"]
                    ref = response["content"]["application/problem+json"]["schema"]["$ref"]
                    schema = document["components"]["schemas"][ref.rsplit("/", 1)[-1]]
                    # Problem, or a problem with members of its own beside Problem's.
                    assert set(problem["required"]) <= set(schema["required"]), (path, status)
            if "requestBody" in operation:
                assert "400" in operation["responses"], (method, path)
    assert "HTTPValidationError" not in document["components"]["schemas"]


def test_a_process_documents_only_the_routers_it_serves() -> None:
    settings = Settings(gateway_routers=frozenset({"orders"}))
    paths = create_app(settings).openapi()["paths"]
    assert "/orders" in paths
    assert "/products" not in paths
    assert "/auth/login" not in paths


def test_the_live_streams_are_a_router_of_their_own() -> None:
    def served(path: str, *routers: str) -> bool:
        app = create_app(Settings(gateway_routers=frozenset(routers)))
        # Not started (no database here): a route that is served fails, one that is not is 404.
        client = TestClient(app, raise_server_exceptions=False)
        return client.get(path).status_code != 404

    assert not served("/live/notifications", "orders")
    assert served("/live/notifications", "live")
    assert served("/live/orders/ord_1", "live")
    assert not served("/orders/ord_1", "live")


def _echo_app(limits: dict[str, int] | None = None) -> TestClient:
    app = FastAPI()

    @app.post("/{path:path}")
    async def echo(body: dict[str, str]) -> dict[str, int]:
        return {"size": len(body.get("x", ""))}

    app.add_middleware(BodyLimitMiddleware, default_limit=100, limits_by_path=limits)
    return TestClient(app)


def test_a_body_over_the_cap_is_a_problem_413() -> None:
    response = _echo_app().post("/small", json={"x": "a" * 200})
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
    assert "100 bytes" in response.json()["detail"]


def test_a_path_can_have_a_larger_cap() -> None:
    client = _echo_app({r"^/big$": 1000})
    assert client.post("/big", json={"x": "a" * 200}).json() == {"size": 200}
    assert client.post("/small", json={"x": "a" * 200}).status_code == 413


def test_the_local_signing_key_is_refused_outside_local() -> None:
    check_secret(Settings(environment="local"))  # fine on a developer's machine
    with pytest.raises(RuntimeError, match="local default in environment 'production'"):
        check_secret(Settings(environment="production"))


def test_an_unset_environment_fails_closed_on_the_local_signing_key() -> None:
    with pytest.raises(RuntimeError, match="local default in an unset environment"):
        check_secret(Settings(environment=None))
    check_secret(Settings(environment=None, jwt_secret=SecretStr("k" * 32)))


@pytest.mark.parametrize("environment", ["local", "production", None])
def test_a_signing_key_under_32_bytes_is_refused_everywhere(environment: str | None) -> None:
    with pytest.raises(RuntimeError, match="7 bytes long; it must be at least 32 bytes"):
        check_secret(Settings(environment=environment, jwt_secret=SecretStr("short-1")))


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"\x89PNG\r\n\x1a\n....", "image/png"),
        (b"\xff\xd8\xff\xe0....", "image/jpeg"),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "image/webp"),
        (b"GIF89a", None),
        (b"<svg xmlns='http://www.w3.org/2000/svg'/>", None),  # scripts can hide in an SVG
    ],
)
def test_image_types_are_told_by_their_first_bytes(data: bytes, expected: str | None) -> None:
    assert image_type(data) == expected


def test_image_urls_point_at_the_cdn_or_the_bucket() -> None:
    key = "products/MUG-01/img_1.png"
    cdn = Settings(product_images_base_url="https://img.example.com/", aws_endpoint_url=None)
    moto = Settings(aws_endpoint_url="http://127.0.0.1:26500")
    aws = Settings(aws_region="eu-west-1", aws_endpoint_url=None)
    assert image_url(cdn, key) == "https://img.example.com/products/MUG-01/img_1.png"
    assert image_url(moto, key).startswith("http://127.0.0.1:26500/shopstream-product-images/")
    assert image_url(aws, key) == (
        "https://shopstream-product-images.s3.eu-west-1.amazonaws.com/products/MUG-01/img_1.png"
    )
