from __future__ import annotations

from fastapi.testclient import TestClient
from pydantic import BaseModel, ConfigDict

from api.main import create_app


class Sample(BaseModel):
    model_config = ConfigDict(extra="forbid")
    quantity: int


def _client() -> TestClient:
    app = create_app()

    @app.post("/sample")
    async def sample(body: Sample) -> dict[str, int]:
        return {"quantity": body.quantity}

    @app.get("/explode")
    async def explode() -> None:
        raise RuntimeError("boom")

    return TestClient(app, raise_server_exceptions=False)


def test_validation_errors_name_each_field_and_reason() -> None:
    response = _client().post("/sample", json={"quantity": "many", "status": "PAID"})
    body = response.json()
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert {error["location"] for error in body["errors"]} == {"body.quantity", "body.status"}
    assert "body.status: Extra inputs are not permitted" in body["detail"]


def test_unexpected_errors_are_problem_json_without_internals() -> None:
    response = _client().get("/explode")
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert "boom" not in response.text
    assert response.json()["title"] == "Internal Server Error"
