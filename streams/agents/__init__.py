"""The stream agents, one module each, by role. Importing a module registers its agents and
tables with the app; a worker imports the modules of its roles (``register``):

- saga: orders, inventory, payments and shipping, each the single writer of its table;
- notifications: what the customer is told, published to SNS;
- projections: the read models in PostgreSQL and DynamoDB.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable

from shopstream.settings import WorkerRole

MODULES: dict[WorkerRole, tuple[str, ...]] = {
    "saga": ("orders", "inventory", "payments", "shipping"),
    "notifications": ("notifications",),
    "projections": ("projections",),
}


def register(roles: Iterable[WorkerRole]) -> None:
    for role in sorted(roles):
        for module in MODULES[role]:
            importlib.import_module(f"{__name__}.{module}")
