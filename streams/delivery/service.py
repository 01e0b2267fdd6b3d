"""The delivery workers of a process: the topology ensured, then one receive loop per channel."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from contextlib import AsyncExitStack

from shopstream.aws import aws_client
from shopstream.settings import Settings
from streams.adapters.notification_topology import ensure_topology
from streams.contract import Channel
from streams.delivery.dedupe import Deliveries, ensure_table
from streams.delivery.email import EmailSender
from streams.delivery.push import PushSender
from streams.delivery.receiver import Receiver, Send
from streams.delivery.sms import SmsSender


async def run(
    settings: Settings, stop: asyncio.Event, channels: Iterable[Channel] = tuple(Channel)
) -> None:
    """Receive and deliver on ``channels`` until ``stop`` is set: a stop waits for the long
    polls and batches under way (at most ``notification_wait_time_s`` plus one send), so no
    send is cut off halfway."""
    async with AsyncExitStack() as stack:
        sqs = await stack.enter_async_context(aws_client(settings, "sqs"))
        sns = await stack.enter_async_context(aws_client(settings, "sns"))
        dynamodb = await stack.enter_async_context(aws_client(settings, "dynamodb"))
        topology = await ensure_topology(settings, sns, sqs)
        await ensure_table(dynamodb, settings.notification_deliveries_table)
        deliveries = Deliveries(
            dynamodb,
            settings.notification_deliveries_table,
            claim_s=settings.notification_visibility_timeout_s,
            keep_s=settings.notification_dedupe_ttl_s,
        )
        senders: dict[Channel, Send] = {
            Channel.EMAIL: EmailSender(settings),
            Channel.SMS: SmsSender(sns),
            Channel.PUSH: PushSender(settings, deliveries),
        }
        receivers = [
            Receiver(
                settings, channel, sqs, topology.queue_urls[channel], deliveries, senders[channel]
            )
            for channel in channels
        ]
        await asyncio.gather(*(receiver.run(stop) for receiver in receivers))
