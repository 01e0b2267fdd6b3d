"""The live stream's source: the order topics, read from Kafka and fanned out in-process.

Every gateway process reads every partition of the order-keyed topics and of the orders
changelog, whose writes carry the saga's status changes (no consumer group: each replica needs
all events for the browsers it holds), and hands each event to the subscribers of its order and
of the order's owner. It keeps the events of the last ``live_replay_window_s``
and starts reading that far back, so that a browser reconnecting with ``Last-Event-ID``, even
to a gateway that just restarted, finds what it missed in this buffer or in the order's
DynamoDB history, whichever has it first. The database is never polled for news.

What an event looks like here is what the history projection records of it (its summary
fields, payment tokens left out): the live timeline and the stored one say the same.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import OrderedDict, deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

from api.toasts import SummaryValue
from shopstream.logs import get_logger
from shopstream.metrics import LIVE_DROPPED, LIVE_EVENTS, LIVE_SUBSCRIBERS
from shopstream.settings import Settings
from streams.contract import ContractError, EventBase, decode, decode_order_update
from streams.projections.history import HistoryEntry, history_item, timeline_key
from streams.publisher import ensure_topics
from streams.topics import (
    INVENTORY_EVENTS,
    ORDERS_EVENTS,
    ORDERS_TABLE,
    PAYMENTS_COMMANDS,
    PAYMENTS_EVENTS,
    SHIPPING_COMMANDS,
    SHIPPING_EVENTS,
    TopicLayout,
    TopicSpec,
    changelog_spec,
    changelog_topic,
)

log = get_logger(__name__)

# The order-keyed topics: with the orders changelog, everything the order's history records.
LIVE_TOPICS: Final[tuple[TopicSpec, ...]] = (
    ORDERS_EVENTS,
    INVENTORY_EVENTS,
    PAYMENTS_COMMANDS,
    PAYMENTS_EVENTS,
    SHIPPING_COMMANDS,
    SHIPPING_EVENTS,
)
_OWNERS_KEPT: Final = 100_000


@dataclass(frozen=True, slots=True)
class LiveEvent:
    order_id: str
    event_id: str
    type: str
    occurred_at: datetime
    summary: dict[str, SummaryValue]

    @classmethod
    def from_entry(cls, entry: HistoryEntry) -> LiveEvent:
        return cls(
            entry.order_id, str(entry.event_id), entry.type, entry.occurred_at, entry.summary
        )

    @property
    def timeline_key(self) -> str:
        """Its place in the order's timeline: the stored timeline is ordered by it too."""
        return timeline_key(self.occurred_at, self.type, self.event_id)


def in_time_order(events: Iterable[LiveEvent]) -> list[LiveEvent]:
    """The events in the order they happened. Not the order they arrive in: every topic's
    events reach the gateway and the history on their own, so a status change the saga made
    before a delivery may be read after it."""
    return sorted(events, key=lambda event: event.timeline_key)


def live_event(event: EventBase) -> LiveEvent | None:
    """The event as the timeline shows it, or None for what the history does not record."""
    item = history_item(event)
    return None if item is None else LiveEvent.from_entry(HistoryEntry.from_item(item))


@dataclass(eq=False)
class Subscription:
    """One browser's queue. Once ``cut_off`` (it fell behind, or the gateway is stopping) the
    stream ends after what is queued, and the browser resumes from its last event id."""

    queue: asyncio.Queue[LiveEvent | None]
    cut_off: bool = field(default=False)

    def offer(self, event: LiveEvent) -> None:
        if self.cut_off:
            return
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            self.cut_off = True
            LIVE_DROPPED.inc()

    def close(self) -> None:
        self.cut_off = True
        with contextlib.suppress(asyncio.QueueFull):
            self.queue.put_nowait(None)


class LiveHub:
    def __init__(self, settings: Settings, pool: asyncpg.Pool) -> None:
        self.settings = settings
        self.pool = pool
        layout = TopicLayout(partitions=settings.topic_partitions, prefix=settings.topic_prefix)
        self.changelog = changelog_topic(settings.worker_app_id, ORDERS_TABLE)
        self.topics = [*(layout.spec(topic).name for topic in LIVE_TOPICS), self.changelog]
        self._by_order: dict[str, set[Subscription]] = {}
        self._by_user: dict[str, set[Subscription]] = {}
        # (monotonic and wall-clock time seen, owner, event), oldest first.
        self._recent: deque[tuple[float, float, str, LiveEvent]] = deque()
        self._owners: OrderedDict[str, str] = OrderedDict()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        # The topics it reads, and the orders changelog, which the saga's workers would make.
        changelog = changelog_spec(self.changelog, self.settings.topic_partitions)
        await ensure_topics(self.settings, [changelog])
        self._task = asyncio.create_task(self._run(), name="live-hub")

    async def _run(self) -> None:
        # Never gives up: a failure is logged and the consumer made again, from the start of
        # the replay window (followers dedupe what they see twice). A dead task would leave
        # every browser of this process waiting on a stream that says nothing.
        while True:
            consumer = AIOKafkaConsumer(
                bootstrap_servers=self.settings.kafka_bootstrap_servers,
                group_id=None,
                enable_auto_commit=False,
                auto_offset_reset="latest",
            )
            try:
                await consumer.start()
                await self._position(consumer)
                await self._consume(consumer)
            except KafkaError as error:
                log.warning("live stream lost Kafka; reconnecting", error=repr(error))
            except Exception:
                log.exception("live stream failed; starting it again")
            finally:
                await consumer.stop()
            await asyncio.sleep(1)

    async def _position(self, consumer: AIOKafkaConsumer) -> None:
        # Every topic of the layout has the settings' partition count (streams.topics).
        partitions = [
            TopicPartition(topic, partition)
            for topic in self.topics
            for partition in range(self.settings.topic_partitions)
        ]
        consumer.assign(partitions)
        since_ms = int((time.time() - self.settings.live_replay_window_s) * 1000)
        offsets = await consumer.offsets_for_times({tp: since_ms for tp in partitions})
        for tp in partitions:
            found = offsets.get(tp)
            if found is None:
                await consumer.seek_to_end(tp)
            else:
                consumer.seek(tp, found.offset)
        log.info("live stream reading", topics=self.topics, since_ms=since_ms)

    async def stop(self) -> None:
        for subscriptions in (*self._by_order.values(), *self._by_user.values()):
            for subscription in subscriptions:
                subscription.close()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    @contextlib.contextmanager
    def follow_order(self, order_id: str) -> Iterator[Subscription]:
        with self._follow(self._by_order, order_id) as subscription:
            yield subscription

    @contextlib.contextmanager
    def follow_user(self, user_id: str) -> Iterator[Subscription]:
        with self._follow(self._by_user, user_id) as subscription:
            yield subscription

    @contextlib.contextmanager
    def _follow(self, index: dict[str, set[Subscription]], key: str) -> Iterator[Subscription]:
        subscription = Subscription(asyncio.Queue(self.settings.live_subscriber_queue))
        index.setdefault(key, set()).add(subscription)
        LIVE_SUBSCRIBERS.inc()
        try:
            yield subscription
        finally:
            LIVE_SUBSCRIBERS.dec()
            followers = index.get(key)
            if followers is not None:
                followers.discard(subscription)
                if not followers:
                    del index[key]

    def recent_for_order(self, order_id: str) -> list[LiveEvent]:
        return [event for _, _, _, event in self._recent if event.order_id == order_id]

    def recent_for_user(self, user_id: str, seen_since: float = 0.0) -> list[LiveEvent]:
        """The user's recent events this process saw at or after ``seen_since`` (Unix time)."""
        return [
            event
            for _, seen_at, owner, event in self._recent
            if owner == user_id and seen_at >= seen_since
        ]

    async def publish(self, event: LiveEvent) -> None:
        """Hand one event to its followers and keep it for those who reconnect."""
        owner = await self._owner(event)
        now = time.monotonic()
        self._recent.append((now, time.time(), owner, event))
        horizon = now - self.settings.live_replay_window_s
        while self._recent and self._recent[0][0] < horizon:
            self._recent.popleft()
        for subscription in self._by_order.get(event.order_id, ()):
            subscription.offer(event)
        for subscription in self._by_user.get(owner, ()):
            subscription.offer(event)

    async def _owner(self, event: LiveEvent) -> str:
        owner = self._owners.get(event.order_id)
        if owner is None:
            placed_by = event.summary.get("user_id") if event.type == "OrderPlaced" else None
            if isinstance(placed_by, str):
                owner = placed_by
            else:
                # An order placed before this process's window: the status projection knows.
                found = await self.pool.fetchval(
                    "SELECT user_id FROM orders WHERE order_id = $1", event.order_id
                )
                if found is None:
                    return ""  # not projected yet: only the order's own followers get it
                owner = str(found)
        self._remember_owner(event.order_id, owner)
        return owner

    def _remember_owner(self, order_id: str, owner: str) -> None:
        self._owners[order_id] = owner
        self._owners.move_to_end(order_id)
        if len(self._owners) > _OWNERS_KEPT:
            self._owners.popitem(last=False)

    async def _consume(self, consumer: AIOKafkaConsumer) -> None:
        while True:
            batches = await consumer.getmany(timeout_ms=1000)
            for records in batches.values():
                for record in records:
                    try:
                        events = self._events(record.topic, record.value)
                    except ContractError as error:
                        # The workers dead-letter it; the live stream only skips it.
                        log.warning("live stream skipped a record", reason=error.reason)
                        continue
                    for event in events:
                        LIVE_EVENTS.inc()
                        try:
                            await self.publish(event)
                        except (OSError, asyncpg.PostgresError) as error:
                            log.warning(
                                "live fan-out failed", order_id=event.order_id, error=repr(error)
                            )

    def _events(self, topic: str, value: bytes | None) -> list[LiveEvent]:
        """What one record shows on the timeline: an event of the order-keyed topics, or the
        status changes an orders-changelog write carries (whose row names the owner)."""
        if topic != self.changelog:
            event = live_event(decode(value or b""))
            return [] if event is None else [event]
        if value is None:
            return []  # a row deleted from the table
        update = decode_order_update(value)
        self._remember_owner(update.order_id, update.user_id)
        return [event for change in update.status_changes if (event := live_event(change))]
