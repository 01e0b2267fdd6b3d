from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from shopstream.config_reference import TARGET, reference
from shopstream.settings import (
    RENAMED,
    REPO_ROOT,
    Settings,
    StackPorts,
    UnknownSettingError,
    local_addresses,
    setting_names,
    unknown_settings,
)


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


@pytest.mark.parametrize("follower", ["projections", "notifications"])
def test_the_roles_that_follow_the_sagas_changelogs_never_share_a_worker_with_it(
    follower: str,
) -> None:
    # A worker reads its own tables' changelogs only to restore them, never as a stream.
    with pytest.raises(ValidationError, match=f"the {follower} role follows the saga's"):
        Settings(worker_roles=frozenset({"saga", follower}))


def test_the_notifications_and_projections_share_the_projector() -> None:
    roles = frozenset({"projections", "notifications"})
    assert Settings(worker_roles=roles).worker_roles == roles


def test_only_a_named_environment_other_than_local_is_deployed() -> None:
    assert Settings(environment="production").is_deployed
    assert not Settings(environment="local").is_deployed
    assert not Settings(environment=None).is_deployed


def test_a_misspelt_variable_stops_startup_naming_the_closest_setting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SHOPSTREAM_PORT__GATEWAY", "8001")
    monkeypatch.setenv("SHOPSTREAM_DATABSE_URL", "postgresql://elsewhere/db")
    with pytest.raises(UnknownSettingError) as stopped:
        Settings()
    assert str(stopped.value).splitlines() == [
        "SHOPSTREAM_DATABSE_URL is not a setting; did you mean SHOPSTREAM_DATABASE_URL?",
        "SHOPSTREAM_PORT__GATEWAY is not a setting; did you mean SHOPSTREAM_PORTS__GATEWAY?",
    ]


def test_a_variable_like_no_setting_at_all_points_at_the_reference() -> None:
    assert unknown_settings({"SHOPSTREAM_ZZZ": "1"}) == [
        "SHOPSTREAM_ZZZ is not a setting; see docs/configuration.md"
    ]


def test_a_setting_of_an_earlier_release_names_the_one_that_took_its_place() -> None:
    old = "SHOPSTREAM_DEAD_LETTER_WATCH_PORT"
    assert unknown_settings({old: "26068"}) == [
        f"{old} is not a setting any more; it is now SHOPSTREAM_PORTS__DEAD_LETTER_WATCH_METRICS"
    ]
    assert unknown_settings(dict.fromkeys(RENAMED.values(), "1")) == []


def test_every_field_and_nested_port_is_a_valid_name() -> None:
    environ = {name: "1" for name in setting_names()}
    assert "SHOPSTREAM_PORTS__GATEWAY" in environ
    assert "SHOPSTREAM_PORTS" in environ
    assert unknown_settings(environ) == []


def test_kubernetes_service_links_are_not_taken_for_settings() -> None:
    # A Service named shopstream-gateway puts these in every pod of its namespace.
    links = {
        "SHOPSTREAM_GATEWAY_SERVICE_HOST": "10.0.0.7",
        "SHOPSTREAM_GATEWAY_SERVICE_PORT": "8000",
        "SHOPSTREAM_GATEWAY_SERVICE_PORT_HTTP": "8000",
        "SHOPSTREAM_GATEWAY_PORT": "tcp://10.0.0.7:8000",
        "SHOPSTREAM_GATEWAY_PORT_8000_TCP": "tcp://10.0.0.7:8000",
        "SHOPSTREAM_GATEWAY_PORT_8000_TCP_ADDR": "10.0.0.7",
        "SHOPSTREAM_GATEWAY_PORT_8000_TCP_PORT": "8000",
        "SHOPSTREAM_GATEWAY_PORT_8000_TCP_PROTO": "tcp",
    }
    assert unknown_settings(links) == []
    assert unknown_settings({"SHOPSTREAM_GATEWAY_PORT": "8001"}) != []


def test_every_shopstream_variable_the_repository_sets_is_a_setting() -> None:
    # The stack, the tests, the chart, the manifests, scripts and docs: a name that is no
    # setting would stop whatever it is handed to (the renamed ones are named to say so).
    pattern = re.compile(r"SHOPSTREAM_[A-Z0-9_]*[A-Z0-9]")
    suffixes = {".py", ".sh", ".yaml", ".yml", ".tpl", ".txt", ".md", ".toml", ""}
    used: dict[str, str] = {}
    for path in REPO_ROOT.rglob("*"):
        relative = path.relative_to(REPO_ROOT)
        skipped = relative.parts[0].startswith(".") or path == Path(__file__)
        if skipped or not path.is_file() or path.suffix not in suffixes:
            continue
        for name in pattern.findall(path.read_text(errors="replace")):
            used.setdefault(name, str(relative))
    assert len(used) >= 50
    unknown = unknown_settings(dict.fromkeys(used.keys() - RENAMED.keys(), "1"))
    assert unknown == [], {line.split()[0]: used[line.split()[0]] for line in unknown}


def test_moving_a_port_moves_the_address_built_from_it(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("KAFKA", "POSTGRES", "AMQP", "MQTT", "SMTP", "GATEWAY"):
        monkeypatch.setenv(f"SHOPSTREAM_PORTS__{name}", f"3{len(name)}001")
    moved = Settings()
    assert moved.kafka_bootstrap_servers == "127.0.0.1:35001"
    assert "@127.0.0.1:38001/" in moved.database_url.get_secret_value()
    assert "@127.0.0.1:34001/" in moved.amqp_url.get_secret_value()
    assert (moved.mqtt_port, moved.smtp_port) == (34001, 34001)
    assert moved.notification_order_url.startswith("http://127.0.0.1:37001/")


def test_an_address_set_explicitly_wins_over_the_ports(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHOPSTREAM_PORTS__KAFKA", "35001")
    monkeypatch.setenv("SHOPSTREAM_KAFKA_BOOTSTRAP_SERVERS", "b-1.msk.example:9098")
    assert Settings().kafka_bootstrap_servers == "b-1.msk.example:9098"
    given = Settings(ports=StackPorts(postgres=35432), database_url="postgresql://db/x")
    assert given.database_url.get_secret_value() == "postgresql://db/x"


def test_the_default_addresses_are_the_default_ports() -> None:
    defaults = Settings()
    for name, value in local_addresses(StackPorts()).items():
        shown = getattr(defaults, name)
        assert (shown.get_secret_value() if isinstance(shown, SecretStr) else shown) == value
        declared = Settings.model_fields[name].default
        assert (declared.get_secret_value() if isinstance(declared, SecretStr) else declared) == (
            value
        ), name


def test_the_committed_configuration_reference_is_current() -> None:
    assert TARGET.read_text() == reference(), "regenerate it: python -m shopstream.config_reference"
