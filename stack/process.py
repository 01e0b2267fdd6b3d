"""Background processes owned by the stack: started detached, tracked and stopped by pid file."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from stack.errors import StackError

# Children started by this process, kept so that they are reaped (no zombies) and not
# reported as leaked when a short-lived command (`stack up`) exits and leaves them running.
_children: dict[int, subprocess.Popen[bytes]] = {}


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def require_free_ports(owner: str, ports: dict[str, int]) -> None:
    taken = [f"{name} {port}" for name, port in ports.items() if not port_is_free(port)]
    if taken:
        raise StackError(
            f"{owner}: port {', '.join(taken)} on 127.0.0.1 is already in use by another "
            f"process; stop it (see `ss -ltnp`) or choose another port with "
            f"SHOPSTREAM_PORTS__<NAME>=<port>"
        )


def _stat_fields(pid: int) -> list[str] | None:
    """/proc/PID/stat after the command name (which may hold spaces): state is [0]."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return stat.rsplit(")", 1)[1].split()


def pid_is_running(pid: int) -> bool:
    """True for a live process; a zombie (exited, not yet reaped) counts as gone."""
    fields = _stat_fields(pid)
    return fields is not None and fields[0] not in {"Z", "X"}


def start_time(pid: int) -> str | None:
    """When the process started (clock ticks since boot): with the pid, a process's identity."""
    fields = _stat_fields(pid)
    return None if fields is None else fields[19]


@dataclass(frozen=True)
class Daemon:
    """One long-running process of the stack, in its own session and process group."""

    name: str
    argv: list[str]
    run_dir: Path
    log_path: Path
    env: dict[str, str] = field(default_factory=dict)
    cwd: Path | None = None

    @property
    def pid_file(self) -> Path:
        return self.run_dir / f"{self.name}.pid"

    def pid(self) -> int | None:
        """The pid from our pid file, if that process still runs and is still ours."""
        try:
            pid_text, started = self.pid_file.read_text().split()
            pid = int(pid_text)
        except (FileNotFoundError, ValueError):
            return None
        # The start time guards against a recycled pid; the command line cannot, since
        # processes may rewrite it (a Faust worker sets its title).
        if not pid_is_running(pid) or start_time(pid) != started:
            return None
        return pid

    def start(self) -> int:
        if (running := self.pid()) is not None:
            return running
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            process = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, **self.env},
                cwd=self.cwd,
                start_new_session=True,
            )
        _children[process.pid] = process
        self.pid_file.write_text(f"{process.pid} {start_time(process.pid)}\n")
        return process.pid

    @property
    def stopping_file(self) -> Path:
        """Present while a stop is under way: the process's exit is then no surprise."""
        return self.pid_file.with_name(self.pid_file.name + ".stopping")

    def stop(self, timeout_s: float = 30.0) -> bool:
        """Stop the whole process group: SIGTERM, then SIGKILL after ``timeout_s``."""
        pid = self.pid()
        if pid is None:
            self.pid_file.unlink(missing_ok=True)
            return False
        self.stopping_file.touch()
        try:
            _signal_group(pid, signal.SIGTERM)
            deadline = time.monotonic() + timeout_s
            while pid_is_running(pid) and time.monotonic() < deadline:
                _reap(pid)
                time.sleep(0.1)
            if pid_is_running(pid):
                _signal_group(pid, signal.SIGKILL)
                while pid_is_running(pid):
                    _reap(pid)
                    time.sleep(0.05)
            self.pid_file.unlink(missing_ok=True)
        finally:
            self.stopping_file.unlink(missing_ok=True)
        return True

    def exited_early(self) -> bool:
        # A stop from another process (`make stop` beside `make run`) leaves the pid file in
        # place until its process is gone: that exit is not one to report.
        if not self.pid_file.exists() or self.stopping_file.exists():
            return False
        with contextlib.suppress(ValueError, IndexError):
            _reap(int(self.pid_file.read_text().split()[0]))
        return self.pid() is None


def _signal_group(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, sig)


def _reap(pid: int) -> None:
    """Collect the exit status of a child of ours, so it does not linger as a zombie."""
    if (child := _children.get(pid)) is not None and child.poll() is not None:
        del _children[pid]


def run_checked(argv: list[str], what: str, **kwargs: object) -> subprocess.CompletedProcess[str]:
    """Run a setup command; on failure raise a StackError carrying its output's tail."""
    result = subprocess.run(argv, capture_output=True, text=True, check=False, **kwargs)  # type: ignore[call-overload]
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-10:])
        raise StackError(f"{what} failed (exit {result.returncode}): {' '.join(argv)}\n{tail}")
    return result  # type: ignore[no-any-return]
