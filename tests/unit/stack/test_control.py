"""control.up with real (tiny) processes: a failing part stops what the same run started."""

from __future__ import annotations

from pathlib import Path

import pytest

from shopstream.health import Probe
from shopstream.settings import Settings
from stack import control
from stack.errors import StackError
from stack.part import Part
from stack.process import Daemon


async def _answers(settings: Settings) -> str:
    return "ok"


async def _never_answers(settings: Settings) -> str:
    raise ConnectionRefusedError("nothing listens yet")


class Sleeper(Part):
    name = "sleeper"
    address = "-"

    @property
    def ports(self) -> dict[str, int]:
        return {}

    @property
    def daemons(self) -> list[Daemon]:
        return [Daemon(self.name, ["/bin/sleep", "300"], self.run_dir, self.log_path)]

    @property
    def probes(self) -> list[tuple[str, Probe]]:
        return [("sleeper", _answers)]


class Broken(Sleeper):
    name = "broken"

    @property
    def daemons(self) -> list[Daemon]:
        argv = ["/bin/sh", "-c", "echo 'config file is missing'; exit 3"]
        return [Daemon(self.name, argv, self.run_dir, self.log_path)]

    @property
    def probes(self) -> list[tuple[str, Probe]]:
        return [("broken", _never_answers)]


async def test_a_part_that_dies_while_starting_stops_the_parts_started_with_it(
    tmp_path: Path,
) -> None:
    settings = Settings(state_dir=tmp_path, start_timeout_s=30)
    sleeper, broken = Sleeper(settings), Broken(settings)
    messages: list[str] = []
    with pytest.raises(StackError) as failure:
        await control.up(settings, [sleeper, broken], messages.append)
    assert "broken exited while starting" in str(failure.value)
    assert "config file is missing" in str(failure.value)
    assert not sleeper.is_running()
    assert messages[-1] == "stopped what this run started: sleeper, broken"


async def test_up_reuses_a_running_part_and_down_stops_it(tmp_path: Path) -> None:
    settings = Settings(state_dir=tmp_path)
    sleeper = Sleeper(settings)
    messages: list[str] = []
    await control.up(settings, [sleeper], messages.append)
    pid = sleeper.daemons[0].pid()
    await control.up(settings, [sleeper], messages.append)
    assert sleeper.daemons[0].pid() == pid
    assert "sleeper   already running at -" in messages
    control.down([sleeper], messages.append)
    assert not sleeper.is_running()
