from __future__ import annotations

import pytest
from pydantic import ValidationError

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


def test_the_projections_never_share_a_worker_with_the_saga() -> None:
    # A worker reads its own tables' changelogs only to restore them, never as a stream.
    with pytest.raises(ValidationError, match="projections role runs in a worker of its own"):
        Settings(worker_roles=frozenset({"saga", "projections"}))


def test_the_notifications_run_beside_the_saga_whose_rows_they_read() -> None:
    with pytest.raises(ValidationError, match="notifications role runs only beside the saga"):
        Settings(worker_roles=frozenset({"notifications"}))


def test_only_a_named_environment_other_than_local_is_deployed() -> None:
    assert Settings(environment="production").is_deployed
    assert not Settings(environment="local").is_deployed
    assert not Settings(environment=None).is_deployed
