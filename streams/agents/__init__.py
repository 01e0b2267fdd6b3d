"""The stream agents, one module each, by role. Importing a module registers its agents and
tables with the app; a worker imports the modules of its roles (``register``):

- saga: orders, inventory, payments and shipping, each the single writer of its table;
- notifications: what the customer is told, published to SNS;
- projections: the read models in PostgreSQL and DynamoDB.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from types import ModuleType

from shopstream.settings import WorkerRole

# Each role's modules by name, for what reads the agents' source without running them
# (ops.cloudwatch); IMPORTS below imports the same modules, in the same order.
MODULES: dict[WorkerRole, tuple[str, ...]] = {
    "saga": ("orders", "inventory", "payments", "shipping"),
    "notifications": ("notifications",),
    "projections": ("projections",),
}


# The imports are written out, not built from MODULES' names, so that the import graph (and
# import-linter's contracts over it) sees which agents a worker runs. Inside functions: a
# worker imports only its own roles' agents.
def _saga() -> tuple[ModuleType, ...]:
    # In MODULES' order, the order the agents register in.
    # isort: off
    from streams.agents import orders, inventory, payments, shipping

    # isort: on
    return orders, inventory, payments, shipping


def _notifications() -> tuple[ModuleType, ...]:
    from streams.agents import notifications

    return (notifications,)


def _projections() -> tuple[ModuleType, ...]:
    from streams.agents import projections

    return (projections,)


IMPORTS: dict[WorkerRole, Callable[[], tuple[ModuleType, ...]]] = {
    "saga": _saga,
    "notifications": _notifications,
    "projections": _projections,
}


def register(roles: Iterable[WorkerRole]) -> None:
    for role in sorted(roles):
        IMPORTS[role]()
