"""The receive loop every channel shares.

- Long polling (``WaitTimeSeconds``), up to ten messages a receive, deleted in one batch.
- A message is handled within half the queue's visibility timeout or counted as failed, so it
  is never handed to a second worker while the first is still at it.
- A failure is retried by SQS, not by a sleeping worker: the message's visibility is set to
  the backoff (base * 2^(receives - 1)), and after ``notification_max_receives`` receives the
  queue's redrive policy moves it to the dead-letter queue. A poison message thus costs a few
  receives and blocks nothing: the rest of its batch is handled and deleted meanwhile.
- Dedupe by notification id (``dedupe.Deliveries``) before each send.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Awaitable, Callable
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import Any, Final

from botocore.exceptions import BotoCoreError, ClientError

from shopstream import tracing
from shopstream.logs import get_logger, record_context
from shopstream.metrics import NOTIFICATIONS_FAILED, NOTIFICATIONS_SENT
from shopstream.settings import Settings
from shopstream.tracing import SpanKind
from streams.contract import Channel, ContractError, CustomerNotification, decode_notification
from streams.delivery.dedupe import Claim, Deliveries

log = get_logger(__name__)

Send = Callable[[CustomerNotification], Awaitable[None]]
Decoded = CustomerNotification | ContractError
MAX_VISIBILITY_S: Final = 900  # the longest a failed message waits before its next try


class Receiver:
    def __init__(
        self,
        settings: Settings,
        channel: Channel,
        sqs: Any,
        queue_url: str,
        deliveries: Deliveries,
        send: Send,
    ) -> None:
        self.settings = settings
        self.channel = channel
        self.sqs = sqs
        self.queue_url = queue_url
        self.deliveries = deliveries
        self.send = send

    async def run(self, stop: asyncio.Event) -> None:
        """Receive until ``stop`` is set; the batch in hand is finished first."""
        log.info("receiving", channel=self.channel.value, queue=self.queue_url)
        while not stop.is_set():
            try:
                await self.receive_once()
            except (BotoCoreError, ClientError) as error:
                log.warning(
                    "receive failed; trying again", channel=self.channel.value, error=repr(error)
                )
                await asyncio.sleep(1)

    async def receive_once(self) -> int:
        """One long-polling receive and its batch, handled; the number of messages received.

        One recipient's notifications in a batch are sent one after another, oldest first
        (SQS keeps no order); different recipients' are sent concurrently.
        """
        answer = await self.sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=self.settings.notification_batch_size,
            WaitTimeSeconds=self.settings.notification_wait_time_s,
            MessageSystemAttributeNames=["ApproximateReceiveCount"],
            MessageAttributeNames=[tracing.TRACEPARENT],
        )
        messages: list[dict[str, Any]] = answer.get("Messages", [])
        lanes: dict[str, list[tuple[dict[str, Any], Decoded]]] = defaultdict(list)
        for message in messages:
            decoded = _decode(message)
            lane = decoded.address if isinstance(decoded, CustomerNotification) else ""
            lanes[lane or message["MessageId"]].append((message, decoded))
        handled = await asyncio.gather(*(self._lane(lane) for lane in lanes.values()))
        done = [message for lane in handled for message in lane]
        if done:
            await self.sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[
                    {"Id": str(number), "ReceiptHandle": message["ReceiptHandle"]}
                    for number, message in enumerate(done)
                ],
            )
        return len(messages)

    async def _lane(self, lane: list[tuple[dict[str, Any], Decoded]]) -> list[dict[str, Any]]:
        """The lane's messages handled in the order their events occurred; those done."""
        lane.sort(key=lambda item: _occurred(item[1]))
        return [message for message, decoded in lane if await self._handle(message, decoded)]

    async def _handle(self, message: dict[str, Any], decoded: Decoded) -> bool:
        """Whether the message is done with (sent, or a copy of one sent): delete it."""
        receives = int(message.get("Attributes", {}).get("ApproximateReceiveCount", "1"))
        if isinstance(decoded, ContractError):
            log.warning(
                "not a notification; it goes to the dead-letter queue after "
                f"{self.settings.notification_max_receives} receives",
                channel=self.channel.value,
                reason=decoded.reason,
                receives=receives,
            )
            return await self._failed(message, receives)
        notification = decoded
        context = {
            "order_id": notification.order_id,
            "trace_id": notification.trace_id,
            "notification_id": str(notification.notification_id),
            "channel": self.channel.value,
        }
        with record_context(**context), self._span(notification, message, receives) as span:
            try:
                return await self._deliver(notification, message, receives)
            except Exception as error:
                log.warning(
                    "delivery failed; retried after backoff", receives=receives, error=repr(error)
                )
                tracing.failed(span, repr(error))
                return await self._failed(message, receives)

    def _span(
        self, notification: CustomerNotification, message: dict[str, Any], receives: int
    ) -> AbstractContextManager[tracing.Span | None]:
        """Traced, the delivery continues the notification's trace: the child of the publish
        its ``traceparent`` attribute names, else a root of the trace of its order event."""
        given = message.get("MessageAttributes", {}).get(tracing.TRACEPARENT, {})
        return tracing.span(
            f"deliver {self.channel.value} notification",
            notification.trace_id,
            kind=SpanKind.CONSUMER,
            traceparent=given.get("StringValue"),
            attributes={
                "messaging.system": "aws_sqs",
                "messaging.operation.type": "process",
                "messaging.destination.name": self.queue_url.rsplit("/", 1)[-1],
                "messaging.message.id": message.get("MessageId", ""),
                "shopstream.order_id": notification.order_id,
                "shopstream.receives": receives,
            },
        )

    async def _deliver(
        self, notification: CustomerNotification, message: dict[str, Any], receives: int
    ) -> bool:
        claim = await self.deliveries.claim(notification.notification_id)
        if claim is Claim.SENT:
            NOTIFICATIONS_SENT.labels(self.channel.value, "duplicate").inc()
            log.info("already sent; copy dropped")
            return True
        if claim is Claim.HELD:
            await self._back_off(message, receives)
            return False
        try:
            # Half the visibility timeout: a hung send gives the message up well before SQS
            # would hand it to another worker.
            async with asyncio.timeout(self.settings.notification_visibility_timeout_s / 2):
                await self.send(notification)
        except BaseException:
            await self.deliveries.release(notification.notification_id)
            raise
        await self.deliveries.sent(notification.notification_id)
        NOTIFICATIONS_SENT.labels(self.channel.value, "sent").inc()
        log.info("sent", kind=notification.kind.value)
        return True

    async def _failed(self, message: dict[str, Any], receives: int) -> bool:
        NOTIFICATIONS_FAILED.labels(self.channel.value).inc()
        await self._back_off(message, receives)
        return False

    async def _back_off(self, message: dict[str, Any], receives: int) -> None:
        delay = min(
            self.settings.notification_retry_backoff_s * 2 ** (receives - 1), MAX_VISIBILITY_S
        )
        await self.sqs.change_message_visibility(
            QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=delay
        )


def _decode(message: dict[str, Any]) -> Decoded:
    try:
        return decode_notification(message["Body"])
    except ContractError as error:
        return error


def _occurred(decoded: Decoded) -> datetime:
    if isinstance(decoded, ContractError):
        return datetime.min.replace(tzinfo=UTC)
    return decoded.occurred_at
