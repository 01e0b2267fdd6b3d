from __future__ import annotations

import pytest

from shopstream.settings import Settings


def test_aws_endpoint_is_unset_by_default_so_real_aws_is_used(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("SHOPSTREAM_AWS_ENDPOINT_URL", raising=False)
    assert Settings().aws_endpoint_url is None


def test_nested_ports_and_fields_come_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SHOPSTREAM_PORTS__KAFKA", "39092")
    monkeypatch.setenv("SHOPSTREAM_AWS_ENDPOINT_URL", "http://127.0.0.1:1234")
    settings = Settings()
    assert settings.ports.kafka == 39092
    assert settings.aws_endpoint_url == "http://127.0.0.1:1234"


def test_secrets_do_not_show_in_the_settings_repr() -> None:
    assert "shopstream:shopstream@" not in repr(Settings())


def test_only_the_local_environment_is_local() -> None:
    assert Settings(environment="local").is_local
    assert not Settings(environment="production").is_local
