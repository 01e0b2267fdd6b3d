"""``python -m ops.roles ROLE [ARGS...]``: the container image's one entry point.

One image runs every process of the system; the role says which. Each role but ``migrate``
replaces this process with the role's own command line (``exec``), so signals reach the
process itself and its exit status is the container's.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import get_args

from shopstream.logs import configure_logging, get_logger
from shopstream.settings import (
    DEFAULT_WORKER_ROLES,
    PROJECTOR_ROLES,
    Settings,
    WorkerRole,
    settings_at_start,
)


@dataclass(frozen=True)
class Command:
    """What a role runs: a module's command line and the environment it adds."""

    argv: list[str]
    environment: dict[str, str] = field(default_factory=dict)


def _worker(roles: Sequence[str]) -> Command:
    known = get_args(WorkerRole)
    unknown = [role for role in roles if role not in known]
    if unknown:
        raise ValueError(f"unknown worker role {unknown[0]!r}; known: {', '.join(known)}")
    chosen = list(roles) or list(DEFAULT_WORKER_ROLES)
    return Command(["-m", "streams", "worker"], {"SHOPSTREAM_WORKER_ROLES": json.dumps(chosen)})


def command(role: str, args: Sequence[str]) -> Command:
    """The command line of ``role`` with the role's arguments ``args``.

    Raises ValueError with what is known when the role (or a worker role) is not.
    """
    match role:
        case "gateway":
            return Command(["-m", "api", "serve", *args])
        case "worker":
            return _worker(args)
        case "projector":
            return _worker(PROJECTOR_ROLES)
        case "delivery":  # channels, all by default
            return Command(["-m", "streams.delivery", *args])
        case "carrier-simulator":
            return Command(["-m", "streams.carrier_simulator", *args])
        case "dlq-watch":
            return Command(["-m", "ops.cli", "dlq", "watch", *args])
        case "operator":
            return Command(["-m", "operators", *args])
        case "migrate":
            return Command(["-m", "ops.roles", "migrate"])
        case _:
            raise ValueError(f"unknown role {role!r}; known: {', '.join(ROLES)}")


ROLES = (
    "gateway",
    "worker",
    "projector",
    "delivery",
    "carrier-simulator",
    "dlq-watch",
    "operator",
    "migrate",
)


async def migrate(settings: Settings) -> list[int]:
    """Bring the PostgreSQL schema (projections' and gateways' tables) to the latest version."""
    # Imported here: every other role execs before it would need the gateway's modules.
    import asyncpg

    from api.schema import migrate as migrate_schema

    pool = await asyncpg.create_pool(settings.database_url.get_secret_value(), min_size=1)
    try:
        return await migrate_schema(pool)
    finally:
        await pool.close()


def main(argv: Sequence[str], environ: Mapping[str, str]) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__.strip() + f"\n\nroles: {', '.join(ROLES)}", file=sys.stderr)
        return 0 if argv else 2
    role, args = argv[0], argv[1:]
    if role == "migrate":
        settings = settings_at_start("python -m ops.roles")
        configure_logging("migrate", settings.log_level)
        applied = asyncio.run(migrate(settings))
        get_logger(__name__).info("schema migrated", applied=applied)
        return 0
    try:
        chosen = command(role, args)
    except ValueError as error:
        print(f"shopstream: {error}", file=sys.stderr)
        return 2
    os.execve(  # noqa: S606 - the role's process takes this one's place
        sys.executable, [sys.executable, *chosen.argv], {**environ, **chosen.environment}
    )


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:], os.environ))
