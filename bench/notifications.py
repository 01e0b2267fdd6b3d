"""E-mail notifications through SNS -> SQS -> the delivery worker, beside plain SMTP sends.

    .venv/bin/python -m bench.notifications [--count 200]

Against the local stack (moto, an in-process aiosmtpd server on a port of its own), with a
topic, queues and dedupe table of its own that it deletes afterwards:
1. baseline: ``--count`` e-mails rendered and sent by the e-mail sender alone, ten at a time
   (what one receive batch does);
2. the pipeline: the same count published to SNS (concurrently, through the client's pool of
   connections), then delivered by the e-mail receive loop (long poll, dedupe claim and mark
   in DynamoDB, SMTP send, batch delete), timed from the first publish to the last mail.
The ratio pipeline/baseline in mails/s says what the queue and the dedupe cost per mail.
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from shopstream.aws import aws_client
from shopstream.settings import Settings, get_settings
from stack import control
from stack.environment import use_local_stack
from streams.adapters.notification_publisher import publish
from streams.adapters.notification_topology import ensure_topology
from streams.contract import Channel, CustomerNotification, NotificationKind, OrderStatus
from streams.delivery.email import EmailSender
from streams.delivery.service import run
from streams.testing import free_port


class Counter:
    """Counts the mails received; ``done`` is set when ``target`` have arrived."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.received = 0
        self.target = 0
        self.done = asyncio.Event()

    def expect(self, target: int) -> None:
        self.received, self.target = 0, target
        self.done.clear()

    # aiosmtpd calls its hooks by these names.
    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.received += 1
        if self.received >= self.target:
            # aiosmtpd serves on a thread of its own: wake the benchmark's loop from there.
            self.loop.call_soon_threadsafe(self.done.set)
        return "250 OK"


def _notification(n: int) -> CustomerNotification:
    return CustomerNotification(
        notification_id=uuid.uuid4(),
        event_id=uuid.uuid4(),
        occurred_at=datetime.now(UTC),
        trace_id=uuid.uuid4().hex,
        kind=NotificationKind.DELIVERED,
        channel=Channel.EMAIL,
        order_id=f"ord-bench-{n}",
        user_id="usr-bench",
        recipient_name="Bench",
        address=f"bench-{n}@example.com",
        status=OrderStatus.DELIVERED,
        subject=f"Order ord-bench-{n} delivered",
        text=f"Order ord-bench-{n} has been delivered.",
        link=f"http://shop.test/orders/ord-bench-{n}",
    )


async def bench(settings: Settings, count: int) -> None:
    sink = Counter(asyncio.get_running_loop())
    controller = Controller(sink, hostname="127.0.0.1", port=settings.smtp_port)
    controller.start()
    try:
        sender = EmailSender(settings)
        started = time.perf_counter()
        for first in range(0, count, 10):
            await asyncio.gather(*(sender(_notification(n)) for n in range(first, first + 10)))
        baseline = count / (time.perf_counter() - started)

        sink.expect(count)
        stop = asyncio.Event()
        async with aws_client(settings, "sns") as sns, aws_client(settings, "sqs") as sqs:
            topology = await ensure_topology(settings, sns, sqs)
            worker = asyncio.create_task(run(settings, stop, [Channel.EMAIL]))
            started = time.perf_counter()
            await publish(
                sns,
                topology.topic_arn,
                "OrderStatusChanged",
                [_notification(n) for n in range(count)],
            )
            publishing = count / (time.perf_counter() - started)
            await sink.done.wait()
            pipeline = count / (time.perf_counter() - started)
            stop.set()
            await worker
            await _clean_up(settings, sns, sqs, topology.queue_urls, topology.dead_letter_urls)
    finally:
        controller.stop()
    print(f"{count} e-mails")
    print(f"{'path':<44}{'mails/s':>9}")
    print(f"{'SMTP send alone, 10 at a time':<44}{baseline:>9.1f}")
    print(f"{'SNS -> SQS -> receive loop -> SMTP':<44}{pipeline:>9.1f}")
    print(f"ratio pipeline / SMTP alone: {pipeline / baseline:.2f}")
    print(f"(the SNS publishes alone: {publishing:.1f}/s)")


async def _clean_up(
    settings: Settings,
    sns: Any,
    sqs: Any,
    queues: dict[Channel, str],
    dead_letters: dict[Channel, str],
) -> None:
    for url in [*queues.values(), *dead_letters.values()]:
        await sqs.delete_queue(QueueUrl=url)
    created = await sns.create_topic(Name=settings.notifications_topic)
    await sns.delete_topic(TopicArn=created["TopicArn"])
    async with aws_client(settings, "dynamodb") as dynamodb:
        await dynamodb.delete_table(TableName=settings.notification_deliveries_table)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=200)
    args = parser.parse_args()
    settings = use_local_stack(get_settings())
    asyncio.run(control.up(settings, control.select(settings), lambda message: None))
    run_id = uuid.uuid4().hex[:8]
    settings = settings.model_copy(
        update={
            "notifications_topic": f"bench-notifications-{run_id}",
            "notification_queue_prefix": f"bench-notifications-{run_id}-",
            "notification_deliveries_table": f"bench-notification-deliveries-{run_id}",
            "notification_wait_time_s": 1,
            "smtp_port": free_port(),
        }
    )
    asyncio.run(bench(settings, args.count))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
