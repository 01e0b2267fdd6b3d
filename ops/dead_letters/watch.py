"""``shopstream dlq watch``: every dead-letter queue's depth and oldest age as Prometheus gauges.

One process per deployment counts them, rather than every worker: the queues are shared, so
each replica would report the same figures, and counting needs admin calls (SQS attributes, a
consumer group's offsets) that have no place in a stream worker's loop. Queues found later
(a new SQS dead-letter queue) are picked up on the next round; one that is gone stops being
reported.

With ``dead_letter_watch_emf`` (the chart turns it on in AWS) each round also logs every
queue's figures in CloudWatch's embedded metric format: CloudWatch Logs turns those lines into
the metrics ``DeadLetters`` and ``DeadLetterOldestAgeSeconds`` (namespace ``shopstream``, by
``Queue``), which the alarms in deploy/aws/cloudwatch watch, with no agent to scrape anything.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, Final

from prometheus_client import start_http_server

from ops.dead_letters.model import Summary
from ops.dead_letters.registry import every_queue
from shopstream.logs import get_logger
from shopstream.metrics import DEAD_LETTER_OLDEST_AGE, DEAD_LETTERS_WAITING
from shopstream.settings import Settings

log = get_logger(__name__)

EMF_NAMESPACE: Final = "shopstream"


def export(summaries: list[Summary], previous: set[str]) -> set[str]:
    """Set the gauges from these summaries; drop the labels of queues no longer there."""
    current = {summary.name for summary in summaries}
    for gone in previous - current:
        DEAD_LETTERS_WAITING.remove(gone)
        DEAD_LETTER_OLDEST_AGE.remove(gone)
    for summary in summaries:
        DEAD_LETTERS_WAITING.labels(summary.name).set(summary.count)
        DEAD_LETTER_OLDEST_AGE.labels(summary.name).set(summary.oldest_age_s or 0.0)
    return current


def emf_record(summary: Summary, timestamp_ms: int) -> dict[str, Any]:
    """One queue's figures as an embedded-metric-format record (the fields of a log line)."""
    return {
        "_aws": {
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [
                {
                    "Namespace": EMF_NAMESPACE,
                    "Dimensions": [["Queue"]],
                    "Metrics": [
                        {"Name": "DeadLetters", "Unit": "Count"},
                        {"Name": "DeadLetterOldestAgeSeconds", "Unit": "Seconds"},
                    ],
                }
            ],
        },
        "Queue": summary.name,
        "DeadLetters": summary.count,
        "DeadLetterOldestAgeSeconds": summary.oldest_age_s or 0.0,
    }


async def count_once(settings: Settings, previous: set[str]) -> set[str]:
    summaries = [await queue.summary() for queue in await every_queue(settings)]
    if settings.dead_letter_watch_emf:
        now_ms = int(time.time() * 1000)
        for summary in summaries:
            log.info("dead letters counted", **emf_record(summary, now_ms))
    return export(summaries, previous)


async def watch(settings: Settings) -> None:
    start_http_server(settings.ports.dead_letter_watch_metrics, addr=settings.worker_host)
    log.info("serving metrics", port=settings.ports.dead_letter_watch_metrics)
    exported: set[str] = set()
    while True:
        try:
            exported = await count_once(settings, exported)
        except Exception:
            # A broker away for a round leaves the last figures; the next round tries again.
            log.exception("could not count the dead letters")
        await asyncio.sleep(settings.dead_letter_watch_interval_s)
