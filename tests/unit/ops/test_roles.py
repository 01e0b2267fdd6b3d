"""The image's entry point: which command line each role runs."""

from __future__ import annotations

import json

import pytest

from ops.roles import ROLES, command


def test_every_role_names_a_module_to_run() -> None:
    for role in ROLES:
        assert command(role, []).argv[0] == "-m"


def test_the_gateway_serves_and_passes_its_arguments_on() -> None:
    assert command("gateway", []).argv == ["-m", "api", "serve"]


def test_a_worker_without_roles_runs_the_saga() -> None:
    worker = command("worker", [])
    assert worker.argv == ["-m", "streams", "worker"]
    assert json.loads(worker.environment["SHOPSTREAM_WORKER_ROLES"]) == ["saga"]


def test_a_worker_runs_the_roles_it_is_given() -> None:
    worker = command("worker", ["saga"])
    assert json.loads(worker.environment["SHOPSTREAM_WORKER_ROLES"]) == ["saga"]


def test_the_projector_is_a_worker_of_the_roles_that_follow_the_sagas_changelogs() -> None:
    projector = command("projector", [])
    assert projector.argv == ["-m", "streams", "worker"]
    roles = json.loads(projector.environment["SHOPSTREAM_WORKER_ROLES"])
    assert roles == ["projections", "notifications"]


def test_dlq_watch_is_the_ops_command_line() -> None:
    assert command("dlq-watch", []).argv == ["-m", "ops.cli", "dlq", "watch"]


def test_delivery_and_operator_take_their_arguments() -> None:
    assert command("delivery", ["email"]).argv == ["-m", "streams.delivery", "email"]
    assert command("operator", ["-n", "shop"]).argv == ["-m", "operators", "-n", "shop"]


def test_an_unknown_role_is_refused_with_the_known_ones() -> None:
    with pytest.raises(ValueError, match="unknown role 'web'; known: gateway, worker"):
        command("web", [])


def test_an_unknown_worker_role_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown worker role 'billing'"):
        command("worker", ["billing"])
