"""What every part of the local stack can do; ``stack.control`` drives them in order."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

from shopstream.health import DependencyHealth, Probe, probe
from shopstream.settings import Settings
from stack.process import Daemon, require_free_ports

Progress = Callable[[str], None]


class Part(ABC):
    name: ClassVar[str]

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @property
    def home(self) -> Path:
        """This part's own folder under the stack's state folder."""
        return self.settings.state_dir / self.name

    @property
    def run_dir(self) -> Path:
        return self.settings.state_dir / "run"

    @property
    def log_path(self) -> Path:
        return self.settings.state_dir / "logs" / f"{self.name}.log"

    @property
    @abstractmethod
    def ports(self) -> dict[str, int]: ...

    @property
    @abstractmethod
    def address(self) -> str: ...

    @property
    @abstractmethod
    def daemons(self) -> list[Daemon]:
        """The processes of this part, in start order."""

    @property
    @abstractmethod
    def probes(self) -> list[tuple[str, Probe]]:
        """Named readiness probes; the part is ready when all of them pass."""

    def install(self, progress: Progress) -> None:  # noqa: B027 - most parts need nothing
        """Fetch or build what the part runs from; idempotent and cached."""

    def prepare(self, progress: Progress) -> None:  # noqa: B027
        """One-time initialisation of the part's data folder."""

    async def after_ready(self, progress: Progress) -> None:  # noqa: B027
        """Work that needs the part running (e.g. creating a database); idempotent."""

    def is_running(self) -> bool:
        return all(daemon.pid() is not None for daemon in self.daemons)

    def start(self, progress: Progress) -> None:
        if self.is_running():
            return
        require_free_ports(self.name, self.ports)
        self.home.mkdir(parents=True, exist_ok=True)
        self.prepare(progress)
        for daemon in self.daemons:
            daemon.start()

    def stop(self) -> bool:
        stopped = False
        for daemon in reversed(self.daemons):
            stopped = daemon.stop() or stopped
        return stopped

    def died(self) -> bool:
        """True once a started process of this part has exited on its own."""
        return any(daemon.exited_early() for daemon in self.daemons)

    def log_tail(self, lines: int = 12) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    async def health(self) -> list[DependencyHealth]:
        return [
            await probe(name, self.address, check, self.settings) for name, check in self.probes
        ]
