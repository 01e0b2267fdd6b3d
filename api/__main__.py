"""The gateway's command line.

python -m api                          serve (uvicorn, JSON logs, settings from the env)
python -m api create-admin EMAIL       make EMAIL an admin (creating the account if needed;
                                       the password is read from stdin or prompted for)
python -m api openapi > openapi.json   the OpenAPI document of every router
python -m api import-idempotency-keys  copy the idempotency keys of earlier releases from
                                       DynamoDB into PostgreSQL (docs/idempotency.md)
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import sys
from collections.abc import Sequence

import asyncpg
from pydantic import TypeAdapter, ValidationError

from api.schema import migrate
from api.schemas.users import NewPassword
from api.security import PasswordHasher
from api.services.users import create_admin
from shopstream.logs import configure_logging
from shopstream.settings import Settings, settings_at_start
from shopstream.tracing import configure_tracing


def serve(settings: Settings) -> int:
    # Imported here: create-admin needs neither, and a command line should start quickly.
    import uvicorn

    from api.main import create_app
    from api.resources import check_secret

    configure_logging("gateway", settings.log_level)
    configure_tracing("gateway", settings)
    try:
        # Before uvicorn: a refused key is one line saying what to do, not a startup traceback.
        check_secret(settings)
    except RuntimeError as refused:
        raise SystemExit(f"gateway not started: {refused}") from None
    uvicorn.run(
        create_app(settings),
        host=settings.gateway_host,
        port=settings.ports.gateway,
        # Set, not left to "auto": the benchmark serves its no-op baseline with the same two,
        # and a missing one must fail the start rather than quietly halve the throughput.
        loop="uvloop",
        http="httptools",
        log_config=None,  # keep the JSON logging configured above
        access_log=False,  # the gateway's middleware logs each request with its trace id
        proxy_headers=False,
        # Live streams never end by themselves: past this, a stop closes them (browsers
        # reconnect elsewhere and resume by Last-Event-ID).
        timeout_graceful_shutdown=settings.gateway_shutdown_grace_s,
    )
    return 0


def _read_password() -> str:
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("password for the new admin: ")
    if getpass.getpass("again: ") != first:
        raise SystemExit("the passwords differ")
    return first


async def _create_admin(settings: Settings, email: str, name: str) -> str:
    email = email.strip().lower()
    pool = await asyncpg.create_pool(settings.database_url.get_secret_value(), min_size=1)
    try:
        await migrate(pool)
        exists = await pool.fetchval("SELECT true FROM users WHERE email = $1", email)
        password = None
        if not exists:
            try:  # the same rule as registration's
                password = TypeAdapter(NewPassword).validate_python(_read_password())
            except ValidationError as error:
                raise SystemExit(f"password refused: {error.errors()[0]['msg']}") from error
        account, created = await create_admin(pool, PasswordHasher(settings), email, name, password)
    finally:
        await pool.close()
    verb = "created" if created else "promoted"
    return f"{verb} admin {account.email} ({account.user_id})"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m api", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command")
    commands.add_parser("serve", help="serve the gateway (the default)")
    admin = commands.add_parser("create-admin", help="make an account an admin")
    admin.add_argument("email")
    admin.add_argument("--name", default="Administrator")
    commands.add_parser("openapi", help="print the OpenAPI document (JSON)")
    commands.add_parser(
        "import-idempotency-keys",
        help="copy the unexpired idempotency keys from the DynamoDB table into PostgreSQL",
    )
    args = parser.parse_args(argv)
    settings = settings_at_start("python -m api")
    if args.command == "import-idempotency-keys":
        configure_logging("gateway", settings.log_level)
        from api.idempotency_import import run_import

        print(asyncio.run(run_import(settings)))
        return 0
    if args.command == "create-admin":
        print(asyncio.run(_create_admin(settings, args.email, args.name)))
        return 0
    if args.command == "openapi":
        from api.main import create_app

        every_router = settings.model_copy(
            update={"gateway_routers": frozenset({"users", "products", "orders"})}
        )
        print(json.dumps(create_app(every_router).openapi(), indent=2))
        return 0
    return serve(settings)


if __name__ == "__main__":
    sys.exit(main())
