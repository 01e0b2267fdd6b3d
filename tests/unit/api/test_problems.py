from __future__ import annotations

import re

from fastapi.testclient import TestClient
from pydantic import BaseModel, ConfigDict

from api.main import create_app
from api.problem_types import BLANK_TYPE, FRAMEWORK_TYPES, ProblemType
from api.problems import ApiError
from shopstream.settings import REPO_ROOT

PROBLEMS_DOC = REPO_ROOT / "docs" / "problems.md"


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

    @app.get("/sold-out")
    async def sold_out() -> None:
        raise ApiError(ProblemType.OUT_OF_STOCK, "Mug is out of stock.")

    @app.get("/busy")
    async def busy() -> None:
        raise ApiError(ProblemType.SIGN_IN_BUSY, "Busy.", retry_after_s=7)

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
    assert response.json()["type"] == ProblemType.INTERNAL_ERROR.uri
    assert response.json()["title"] == "Internal error"


def test_a_refusal_names_its_own_type_and_the_request_path_as_instance() -> None:
    response = _client().get("/sold-out", params={"ignored": "1"})
    assert response.status_code == 409
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json() == {
        "type": "https://shopstream.dev/problems/out-of-stock",
        "title": "Out of stock",
        "status": 409,
        "detail": "Mug is out of stock.",
        "instance": "/sold-out",
    }


def test_a_503_refusal_says_when_to_come_back() -> None:
    response = _client().get("/busy")
    assert (response.status_code, response.headers["retry-after"]) == (503, "7")
    assert response.json()["type"] == ProblemType.SIGN_IN_BUSY.uri


def test_framework_errors_have_types_of_their_own() -> None:
    client = _client()
    missing = client.get("/no/such/thing")
    wrong_method = client.delete("/sample")
    invalid = client.post("/sample", json={"quantity": "many"})
    assert missing.json()["type"] == ProblemType.NO_SUCH_RESOURCE.uri
    assert missing.json()["instance"] == "/no/such/thing"
    assert wrong_method.json()["type"] == ProblemType.METHOD_NOT_ALLOWED.uri
    assert invalid.json()["type"] == ProblemType.INVALID_REQUEST.uri


def _documented() -> dict[str, str]:
    """Each entry of docs/problems.md: its heading, and the line under it."""
    entries = re.findall(r"^## (\S+)\n\n(.+)$", PROBLEMS_DOC.read_text(), flags=re.M)
    return dict(entries)


def test_every_problem_type_is_documented_with_its_uri_status_and_title() -> None:
    documented = _documented()
    for kind in ProblemType:
        assert documented.get(kind.slug) == f"`{kind.uri}` · {kind.status} · {kind.title}", kind
    assert set(documented) == {kind.slug for kind in ProblemType} | {BLANK_TYPE}


def test_every_problem_type_is_one_the_gateway_can_answer_with() -> None:
    # A type no code raises is a documented promise nothing keeps.
    declared = {"problem_types.py", "problems.py"}
    code = "\n".join(
        path.read_text() for path in (REPO_ROOT / "api").rglob("*.py") if path.name not in declared
    )
    raised = set(re.findall(r"ProblemType\.([A-Z_]+)\b", code))
    raised |= {kind.name for kind in FRAMEWORK_TYPES.values()}
    assert raised == {kind.name for kind in ProblemType}
