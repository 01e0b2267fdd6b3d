"""The local stack's SMTP server: accepts every message and keeps it as a file.

``python -m stack.mail_sink`` listens on ``smtp_port`` and writes each message it receives to
``<state_dir>/mail/<received>-<n>.eml``, so a developer reads what the system sent with any
mail reader or ``cat``. It never relays anything anywhere.
"""

from __future__ import annotations

import asyncio
import itertools
from datetime import UTC, datetime
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from shopstream.logs import configure_logging, get_logger
from shopstream.settings import get_settings, settings_at_start

log = get_logger(__name__)


class FileSink:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._numbers = itertools.count(1)

    # aiosmtpd calls its hooks by these names.
    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%f")
        path = self.folder / f"{stamp}-{next(self._numbers)}.eml"
        path.write_bytes(envelope.original_content or b"")
        log.info("mail kept", path=str(path), to=envelope.rcpt_tos)
        return "250 Message accepted"


async def serve() -> None:
    settings = get_settings()
    folder = settings.state_dir / "mail"
    folder.mkdir(parents=True, exist_ok=True)
    controller = Controller(FileSink(folder), hostname="127.0.0.1", port=settings.smtp_port)
    controller.start()
    log.info("listening", port=settings.smtp_port, folder=str(folder))
    try:
        await asyncio.Event().wait()  # until the process is stopped
    finally:
        controller.stop()


def main() -> None:
    configure_logging("mail", settings_at_start("python -m stack.mail_sink").log_level)
    asyncio.run(serve())


if __name__ == "__main__":
    main()
