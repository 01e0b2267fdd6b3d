"""PostgreSQL from Debian's packages, as a project-owned cluster with its own data and port."""

from __future__ import annotations

import hashlib
import os
import pwd
import re
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg
from pydantic import SecretStr

from shopstream.health import Probe, postgres_query
from shopstream.settings import Settings
from stack.errors import StackError
from stack.part import Part, Progress
from stack.process import Daemon, pid_is_running, run_checked

# The server refuses to run as root; as root the stack runs it as Debian's `postgres` user.
SERVER_USER = "postgres"


def bin_dir() -> Path:
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
    if not candidates:
        raise StackError(
            "postgres: PostgreSQL server not found; install it: apt-get install postgresql-15"
        )
    return candidates[-1].parent


class Postgres(Part):
    name = "postgres"

    @property
    def url(self) -> str:
        return self.settings.database_url.get_secret_value()

    @property
    def home(self) -> Path:
        # Resolved: when the data lives elsewhere (see _place_home), the server must be given
        # paths it can reach, not ones through a folder it may not enter.
        return (self.settings.state_dir / self.name).resolve()

    @property
    def _maintenance_url(self) -> str:
        return urlsplit(self.url)._replace(path="/postgres").geturl()

    @property
    def ports(self) -> dict[str, int]:
        return {"postgres": self.settings.ports.postgres}

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.settings.ports.postgres}"

    @property
    def data_dir(self) -> Path:
        return self.home / "data"

    @property
    def daemons(self) -> list[Daemon]:
        # pg_ctl owns the server's lifecycle (postmaster.pid); see start/stop below.
        return []

    @property
    def probes(self) -> list[tuple[str, Probe]]:
        # Ready means the server answers a query; the application's database may not exist
        # yet on the first start (after_ready creates it), so ask the maintenance database.
        maintenance = self._maintenance_url

        async def server_query(settings: Settings) -> str:
            return await postgres_query(
                settings.model_copy(update={"database_url": SecretStr(maintenance)})
            )

        return [("postgres", server_query)]

    def _as_server_user(self, argv: list[str]) -> list[str]:
        if os.geteuid() != 0:
            return argv
        return ["runuser", "-u", SERVER_USER, "--", *argv]

    def _place_home(self) -> None:
        """As root, the data must live where the `postgres` user can reach it.

        A clone under a private home (e.g. /root) is not traversable by that user; then the
        data goes to /var/tmp and the state folder keeps a link to it.
        """
        link = self.settings.state_dir / self.name
        if os.geteuid() != 0 or link.exists():
            return
        try:
            server = pwd.getpwnam(SERVER_USER)
        except KeyError as missing:
            raise StackError("postgres: no `postgres` user; reinstall postgresql-15") from missing
        link.parent.mkdir(parents=True, exist_ok=True)
        reachable = (
            subprocess.run(
                ["runuser", "-u", SERVER_USER, "--", "test", "-x", str(link.parent)],
                check=False,
            ).returncode
            == 0
        )
        target = link
        if not reachable:
            digest = hashlib.sha256(str(link).encode()).hexdigest()[:12]
            target = Path("/var/tmp") / f"shopstream-postgres-{digest}"  # noqa: S108 - mode 700
            target.mkdir(parents=True, exist_ok=True)
            link.symlink_to(target)
        target.mkdir(parents=True, exist_ok=True)
        os.chown(target, server.pw_uid, server.pw_gid)
        target.chmod(0o700)

    def install(self, progress: Progress) -> None:
        bin_dir()

    def prepare(self, progress: Progress) -> None:
        if (self.data_dir / "PG_VERSION").exists():
            return
        progress("creating the PostgreSQL cluster (initdb)")
        parts = urlsplit(self.url)
        password_file = self.home / "initdb.pw"
        password_file.write_text(f"{parts.password}\n")
        if os.geteuid() == 0:
            server = pwd.getpwnam(SERVER_USER)
            os.chown(password_file, server.pw_uid, server.pw_gid)
        try:
            run_checked(
                self._as_server_user(
                    [
                        str(bin_dir() / "initdb"),
                        "-D",
                        str(self.data_dir),
                        "-U",
                        str(parts.username),
                        f"--pwfile={password_file}",
                        "--auth-host=scram-sha-256",
                        "--auth-local=peer",
                        "-E",
                        "UTF8",
                        "--no-locale",
                    ]
                ),
                "postgres: initdb",
                cwd="/",  # the server user may not enter the caller's folder
            )
        finally:
            password_file.unlink(missing_ok=True)
        with (self.data_dir / "postgresql.conf").open("a") as conf:
            conf.write(
                "\n# shopstream local stack\n"
                f"port = {self.settings.ports.postgres}\n"
                "listen_addresses = '127.0.0.1'\n"
                f"unix_socket_directories = '{self.home}'\n"
                "max_connections = 200\n"
                "shared_buffers = 128MB\n"
                "log_destination = 'jsonlog'\n"
                "logging_collector = on\n"
                "log_directory = 'log'\n"
            )

    def is_running(self) -> bool:
        pid = self._postmaster_pid()
        return pid is not None and pid_is_running(pid)

    def _postmaster_pid(self) -> int | None:
        try:
            return int((self.data_dir / "postmaster.pid").read_text().split("\n", 1)[0])
        except (FileNotFoundError, ValueError, PermissionError):
            return None

    def start(self, progress: Progress) -> None:
        if self.is_running():
            return
        self._place_home()
        super().start(progress)
        # -W: don't wait here; control waits on the real probe for every part alike.
        result = subprocess.run(
            self._as_server_user(
                [
                    str(bin_dir() / "pg_ctl"),
                    "-D",
                    str(self.data_dir),
                    "-W",
                    "-l",
                    str(self.log_path),
                    "start",
                ]
            ),
            capture_output=True,
            text=True,
            cwd="/",
            check=False,
        )
        if result.returncode != 0:
            raise StackError(f"postgres: pg_ctl start failed: {result.stderr.strip()}")

    async def after_ready(self, progress: Progress) -> None:
        database = urlsplit(self.url).path.lstrip("/")
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", database):
            raise StackError(f"postgres: database name {database!r} must be a plain identifier")
        connection = await asyncpg.connect(self._maintenance_url)
        try:
            if not await connection.fetchval(
                "SELECT 1 FROM pg_database WHERE datname = $1", database
            ):
                progress(f"creating database {database}")
                # Identifiers cannot be bound parameters; the name was checked above.
                await connection.execute(f'CREATE DATABASE "{database}"')
        finally:
            await connection.close()

    def stop(self) -> bool:
        if not self.is_running():
            return False
        run_checked(
            self._as_server_user(
                [str(bin_dir() / "pg_ctl"), "-D", str(self.data_dir), "-m", "fast", "-w", "stop"]
            ),
            "postgres: pg_ctl stop",
            cwd="/",
        )
        return True

    @property
    def log_path(self) -> Path:
        # pg_ctl's own log of the server's start; the server then logs JSON under data/log.
        return self.home / "server.log"
