"""up / down / status / logs over the stack's parts, in dependency order."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

from shopstream.health import DependencyHealth
from shopstream.settings import Settings
from stack.apps import (
    CarrierSimulator,
    DeadLetterWatch,
    Delivery,
    Gateway,
    MailSink,
    Projector,
    Worker,
)
from stack.errors import StackError
from stack.kafka_part import Kafka
from stack.kube_part import Kube
from stack.moto_part import Moto
from stack.part import Part, Progress
from stack.postgres_part import Postgres
from stack.rabbitmq_part import RabbitMQ

INFRASTRUCTURE: tuple[type[Part], ...] = (Kafka, Postgres, RabbitMQ, Moto)
APPLICATIONS: tuple[type[Part], ...] = (
    MailSink,
    Worker,
    Projector,
    CarrierSimulator,
    Delivery,
    DeadLetterWatch,
    Gateway,
)
ALL_PARTS = INFRASTRUCTURE + APPLICATIONS
# Started only when named (the operator's tests do): its first start builds kube-apiserver,
# which takes minutes, so neither `stack up` nor `run` starts it, and `down` stops it by name.
ON_DEMAND: tuple[type[Part], ...] = (Kube,)
EVERY_PART = ALL_PARTS + ON_DEMAND


def names(kinds: Sequence[type[Part]] = EVERY_PART) -> list[str]:
    return [kind.name for kind in kinds]


def select(settings: Settings, names: Sequence[str] = ()) -> list[Part]:
    by_name = {kind.name: kind for kind in EVERY_PART}
    unknown = [name for name in names if name not in by_name]
    if unknown:
        raise StackError(f"unknown part {', '.join(unknown)}; parts are: {', '.join(by_name)}")
    kinds = [by_name[name] for name in names] if names else list(INFRASTRUCTURE)
    # Always in dependency order, whatever order they were named in.
    return [kind(settings) for kind in EVERY_PART if kind in kinds]


async def up(settings: Settings, parts: list[Part], progress: Progress) -> None:
    """Install, start and wait for every part; on failure stop what this call started.

    Infrastructure first, all of it at once; the applications once it is ready, since they
    connect to it as they start.
    """
    for part in parts:
        part.install(progress)
    started: list[Part] = []
    stages = [
        [part for part in parts if not isinstance(part, APPLICATIONS)],
        [part for part in parts if isinstance(part, APPLICATIONS)],
    ]
    try:
        for stage in stages:
            for part in stage:
                if part.is_running():
                    progress(f"{part.name:<9} already running at {part.address}")
                    continue
                progress(f"{part.name:<9} starting")
                part.start(progress)
                started.append(part)
            await asyncio.gather(*(_wait_ready(part, settings, progress) for part in stage))
            for part in stage:
                await part.after_ready(progress)
    except BaseException:
        for part in reversed(started):
            part.stop()
        if started:
            progress(f"stopped what this run started: {', '.join(p.name for p in started)}")
        raise


async def _wait_ready(part: Part, settings: Settings, progress: Progress) -> None:
    began = time.monotonic()
    deadline = began + settings.start_timeout_s
    while True:
        if part.died():
            raise StackError(f"{part.name} exited while starting; its log ends:\n{part.log_tail()}")
        results = await part.health()
        if all(result.ok for result in results):
            progress(f"{part.name:<9} ready in {time.monotonic() - began:4.1f}s at {part.address}")
            return
        if time.monotonic() > deadline:
            reasons = "; ".join(f"{r.name}: {r.detail}" for r in results if not r.ok)
            raise StackError(
                f"{part.name} not ready after {settings.start_timeout_s:.0f}s ({reasons}); "
                f"its log ends:\n{part.log_tail()}"
            )
        await asyncio.sleep(0.25)


def down(parts: list[Part], progress: Progress) -> None:
    for part in reversed(parts):
        if part.stop():
            progress(f"{part.name:<9} stopped")


async def status(parts: list[Part]) -> list[tuple[Part, bool, list[DependencyHealth]]]:
    rows = []
    for part in parts:
        running = part.is_running()
        rows.append((part, running, await part.health() if running else []))
    return rows
