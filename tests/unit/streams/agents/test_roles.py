"""A worker's roles and the agent modules each one imports."""

from __future__ import annotations

from typing import get_args

from shopstream.settings import WorkerRole
from streams.agents import IMPORTS, MODULES


def test_every_worker_role_imports_its_agents() -> None:
    assert set(IMPORTS) == set(MODULES) == set(get_args(WorkerRole))


def test_each_role_imports_the_modules_its_names_list_in_that_order() -> None:
    for role, names in MODULES.items():
        imported = [module.__name__ for module in IMPORTS[role]()]
        assert imported == [f"streams.agents.{name}" for name in names], role
