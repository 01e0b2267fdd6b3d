from __future__ import annotations

from pydantic import SecretStr

from api.idempotency import IdempotencyStore
from shopstream.settings import Settings


def _store(settings: Settings | None = None) -> IdempotencyStore:
    return IdempotencyStore(pool=None, settings=settings or Settings())


def test_the_same_request_has_the_same_fingerprint_whatever_its_key_order() -> None:
    store = _store()
    one = store.fingerprint("POST", "/orders", {"a": 1, "b": {"c": [1, 2]}})
    two = store.fingerprint("POST", "/orders", {"b": {"c": [1, 2]}, "a": 1})
    assert one == two


def test_another_body_or_route_has_another_fingerprint() -> None:
    store = _store()
    base = store.fingerprint("POST", "/orders", {"a": 1})
    assert store.fingerprint("POST", "/orders", {"a": 2}) != base
    assert store.fingerprint("POST", "/other", {"a": 1}) != base


def test_a_fingerprint_cannot_be_computed_without_the_secret() -> None:
    # A card number in a body must not be recoverable from the stored fingerprint by brute force.
    other = _store(Settings(jwt_secret=SecretStr("another deployment's secret, 32+ bytes long")))
    assert other.fingerprint("POST", "/orders", {"a": 1}) != _store().fingerprint(
        "POST", "/orders", {"a": 1}
    )
