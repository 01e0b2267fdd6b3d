"""What ``shopstream dlq ...`` prints; the command line parses, this module does the work."""

from __future__ import annotations

from collections.abc import Callable

from ops.dead_letters.model import DeadLetter, Summary
from ops.dead_letters.registry import every_queue, find
from shopstream.settings import Settings

Print = Callable[[str], None]


def _age(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f}{unit}"
    return f"{seconds:.0f}s"


def summary_line(summary: Summary) -> str:
    return f"{summary.name:<50} {summary.count:>7}  {_age(summary.oldest_age_s):>7}"


def letter_lines(letter: DeadLetter) -> list[str]:
    return [
        f"--- {letter.id}  age {_age(letter.age_s)}  from {letter.source}",
        f"reason: {letter.reason}",
        letter.text(),
    ]


async def list_all(settings: Settings, say: Print) -> list[Summary]:
    summaries = [await queue.summary() for queue in await every_queue(settings)]
    say(f"{'queue':<50} {'count':>7}  {'oldest':>7}")
    for summary in summaries:
        say(summary_line(summary))
    return summaries


async def show(settings: Settings, name: str, limit: int, say: Print) -> list[DeadLetter]:
    queue = await find(settings, name)
    letters = await queue.peek(limit)
    for letter in letters:
        for line in letter_lines(letter):
            say(line)
    if not letters:
        say(f"{name} holds no dead letters")
    return letters


async def redrive(settings: Settings, name: str, say: Print) -> int:
    moved = await (await find(settings, name)).redrive()
    say(f"{moved} sent back from {name}")
    return moved


async def purge(settings: Settings, name: str, confirm: Callable[[str], bool], say: Print) -> int:
    queue = await find(settings, name)
    count = (await queue.summary()).count
    if count and not confirm(f"remove {count} dead letters from {name} for good?"):
        say("nothing removed")
        return 0
    removed = await queue.purge() if count else 0
    say(f"{removed} removed from {name}")
    return removed
