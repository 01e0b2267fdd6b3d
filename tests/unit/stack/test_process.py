from __future__ import annotations

import os
import signal
import socket
import time
from pathlib import Path

import pytest

from stack.errors import StackError
from stack.process import Daemon, port_is_free, require_free_ports, start_time


def _sleeper(tmp_path: Path, name: str = "sleeper") -> Daemon:
    return Daemon(
        name=name, argv=["/bin/sleep", "300"], run_dir=tmp_path, log_path=tmp_path / "log"
    )


def test_a_started_daemon_is_found_by_its_pid_file_and_stopped_with_its_group(
    tmp_path: Path,
) -> None:
    daemon = _sleeper(tmp_path)
    pid = daemon.start()
    assert daemon.pid() == pid
    assert daemon.start() == pid  # starting again reuses the running process
    assert daemon.stop() is True
    assert daemon.pid() is None
    assert not daemon.pid_file.exists()


def test_a_pid_file_naming_a_recycled_pid_is_not_taken_as_ours(tmp_path: Path) -> None:
    daemon = _sleeper(tmp_path)
    daemon.pid_file.write_text(f"1 {int(start_time(1) or 0) + 1}\n")  # pid 1 runs, started earlier
    assert daemon.pid() is None
    assert daemon.stop() is False


def test_a_daemon_that_exits_at_once_is_reported_as_exited_early(tmp_path: Path) -> None:
    daemon = Daemon(
        name="quitter", argv=["/bin/false"], run_dir=tmp_path, log_path=tmp_path / "log"
    )
    daemon.start()
    for _ in range(250):
        if daemon.exited_early():
            break
        time.sleep(0.02)
    assert daemon.exited_early()


def test_a_daemon_exiting_while_another_process_stops_it_is_not_reported_as_exited_early(
    tmp_path: Path,
) -> None:
    daemon = _sleeper(tmp_path)
    pid = daemon.start()
    # What `make stop` does beside `make run`: mark the stop, end the process, then drop the
    # pid file; `run` polls in between.
    daemon.stopping_file.touch()
    os.killpg(pid, signal.SIGTERM)
    for _ in range(250):
        if daemon.pid() is None:
            break
        time.sleep(0.02)
    assert daemon.pid() is None
    assert not daemon.exited_early()
    daemon.stopping_file.unlink()
    assert daemon.exited_early()  # without the mark, the same exit is a surprise


def test_a_taken_port_is_refused_with_one_line_saying_what_and_how_to_fix() -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        assert not port_is_free(port)
        with pytest.raises(StackError) as refused:
            require_free_ports("kafka", {"kafka": port})
    message = str(refused.value)
    assert f"kafka {port}" in message
    assert "SHOPSTREAM_PORTS__" in message
    assert "\n" not in message
