"""Access-token tampering against the live gateway: only an untouched HS256 access token of
ours, in date, for our audience, passes."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from shopstream.settings import Settings
from tests.integration.api.conftest import Person


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _raw_token(
    header: dict[str, Any], claims: dict[str, Any], key: bytes | None, digest: str = "sha256"
) -> str:
    """A JWT assembled by hand, so that nothing a library refuses to produce is out of reach."""
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
    if key is None:
        return f"{signing_input}."
    signature = hmac.new(key, signing_input.encode(), getattr(hashlib, digest)).digest()
    return f"{signing_input}.{_b64(signature)}"


def _claims(settings: Settings, user_id: str, **changes: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    claims: dict[str, Any] = {
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "sub": user_id,
        "role": "customer",
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(minutes=5)).timestamp()),
    }
    claims.update(changes)
    return {name: value for name, value in claims.items() if value is not None}


def _key(settings: Settings) -> bytes:
    return settings.jwt_secret.get_secret_value().encode()


HEADER = {"alg": "HS256", "typ": "at+jwt"}

Forge = Callable[[Settings, Person], str]

FORGERIES: dict[str, Forge] = {
    "alg none": lambda s, p: _raw_token(
        {"alg": "none", "typ": "at+jwt"}, _claims(s, p.user_id), None
    ),
    "alg None spelled otherwise": lambda s, p: _raw_token(
        {"alg": "None", "typ": "at+jwt"}, _claims(s, p.user_id), None
    ),
    "another HMAC (HS512), signed with the secret": lambda s, p: _raw_token(
        {"alg": "HS512", "typ": "at+jwt"}, _claims(s, p.user_id), _key(s), "sha512"
    ),
    "algorithm swap to RS256, signed with the secret": lambda s, p: _raw_token(
        {"alg": "RS256", "typ": "at+jwt"}, _claims(s, p.user_id), _key(s)
    ),
    "claims edited, signature kept": lambda s, p: _edit_claims(
        p.access_token, role="admin", sub="usr_someone_else"
    ),
    "signed with another key": lambda s, p: _raw_token(
        HEADER, _claims(s, p.user_id), b"another key that is 32 bytes long!!"
    ),
    "expired": lambda s, p: _raw_token(
        HEADER, _claims(s, p.user_id, exp=int(datetime.now(UTC).timestamp()) - 60), _key(s)
    ),
    "no expiry": lambda s, p: _raw_token(HEADER, _claims(s, p.user_id, exp=None), _key(s)),
    "another audience": lambda s, p: _raw_token(
        HEADER, _claims(s, p.user_id, aud="another-api"), _key(s)
    ),
    "another issuer": lambda s, p: _raw_token(
        HEADER, _claims(s, p.user_id, iss="https://evil.example"), _key(s)
    ),
    "not an access token (typ JWT)": lambda s, p: _raw_token(
        {"alg": "HS256", "typ": "JWT"}, _claims(s, p.user_id), _key(s)
    ),
    "no typ": lambda s, p: _raw_token({"alg": "HS256"}, _claims(s, p.user_id), _key(s)),
    "unknown role": lambda s, p: _raw_token(
        HEADER, _claims(s, p.user_id, role="superuser"), _key(s)
    ),
    "a refresh token as bearer": lambda s, p: p.refresh_token,
    "three dots of nothing": lambda s, p: "..",
    "not base64": lambda s, p: "!!!.???.***",
}


def _edit_claims(token: str, **changes: Any) -> str:
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims.update(changes)
    return f"{header}.{_b64(json.dumps(claims).encode())}.{signature}"


@pytest.mark.parametrize("forgery", sorted(FORGERIES))
async def test_a_tampered_access_token_is_refused(
    forgery: str, client: httpx.AsyncClient, customer: Person, stack_settings: Settings
) -> None:
    token = FORGERIES[forgery](stack_settings, customer)
    response = await client.get("/users/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401, response.text
    assert response.headers["content-type"] == "application/problem+json"


async def test_a_well_formed_token_of_ours_passes(
    client: httpx.AsyncClient, customer: Person, stack_settings: Settings
) -> None:
    # The control for the cases above: the same construction, nothing tampered with.
    token = _raw_token(HEADER, _claims(stack_settings, customer.user_id), _key(stack_settings))
    response = await client.get("/users/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    assert response.json()["user_id"] == customer.user_id


async def test_a_customer_token_edited_to_admin_cannot_reach_admin_routes(
    client: httpx.AsyncClient, customer: Person
) -> None:
    token = _edit_claims(customer.access_token, role="admin")
    response = await client.get("/admin/orders", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
