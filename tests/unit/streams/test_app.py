"""The worker's app: its consumer group and its agents by role."""

from __future__ import annotations

from typing import get_args

from shopstream.settings import Settings, WorkerRole
from streams.agents import MODULES
from streams.app import consumer_group


def test_a_worker_that_runs_the_saga_is_in_the_sagas_group() -> None:
    assert consumer_group(Settings(worker_app_id="shop")) == "shop"


def test_a_worker_without_the_saga_is_a_group_of_its_own_named_after_its_roles() -> None:
    projections = Settings(worker_app_id="shop", worker_roles=frozenset({"projections"}))
    roles = frozenset({"projections", "notifications"})
    projector = Settings(worker_app_id="shop", worker_roles=roles)

    assert consumer_group(projections) == "shop-projections"
    assert consumer_group(projector) == "shop-notifications-projections"


def test_every_worker_role_has_its_agents() -> None:
    assert set(MODULES) == set(get_args(WorkerRole))
