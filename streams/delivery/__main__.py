"""``python -m streams.delivery [email] [sms] [push]``: the delivery workers (all channels if
none is named), with Prometheus metrics on ``ports.delivery_metrics``."""

from __future__ import annotations

import argparse
import asyncio
import signal

from prometheus_client import start_http_server

from shopstream.logs import configure_logging
from shopstream.settings import Settings, settings_at_start
from shopstream.tracing import configure_tracing
from streams.contract import Channel
from streams.delivery.service import run


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m streams.delivery")
    # type rather than choices: argparse refuses an empty list against choices.
    parser.add_argument("channels", nargs="*", type=Channel, metavar="{email,sms,push}")
    arguments = parser.parse_args()
    settings = settings_at_start("python -m streams.delivery")
    configure_logging("delivery", settings.log_level)
    configure_tracing("delivery", settings)
    start_http_server(settings.ports.delivery_metrics, addr=settings.worker_host)
    channels: list[Channel] = arguments.channels or list(Channel)
    asyncio.run(_until_signalled(settings, channels))


async def _until_signalled(settings: Settings, channels: list[Channel]) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await run(settings, stop, channels)


if __name__ == "__main__":
    main()
