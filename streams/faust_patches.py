"""Where this project changes Faust's (and mode's) behaviour, all in one place.

Each patch below overrides a part of faust-streaming or mode, most of them private, for a
reason its docstring gives; the comment above it names the upstream issue or pull request
behind it, or says what upstream does when no issue describes it. They were checked against
the versions in ``PINNED``, and ``PATCHES`` lists what of upstream each one overrides or relies
on. Tests (``tests/unit/streams/test_faust_patches.py``) fail when the installed versions
differ from the pins, or when an attribute a patch needs is gone: an upgrade starts here,
checking each patch against the new code before the pins move. ``streams/app.py`` only wires
them in.

- ``FlowControl`` (with ``App``): a resume of a running flow clears no queue
  (faust-streaming/faust#596).
- ``DrainingProducerBuffer`` (with ``IdempotentProducer``): a flush before a commit waits for
  the whole buffer, table rows included (faust-streaming/faust#270 and #273); the producer is
  idempotent outside transactions too.
- ``ConsumerThread`` (with ``Consumer``): the broker's fetch wait is a setting, not 1.5 s.
- ``use_patched_transport``: the app's transport makes the two classes above.
- ``Worker``: no terminal spinner, whose logging setup built every library's debug record.
- ``QuietMonitor``: Faust's monitor without its bookkeeping for every record.
- ``set_current_event``: agents that apply a batch of records name the record whose partition
  the tables use, as Faust does for one record at a time (faust-streaming/faust#497).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final, cast

import aiokafka
import faust
from faust.sensors import Monitor
from faust.transport.drivers import aiokafka as aiokafka_driver
from faust.transport.producer import ProducerBuffer
from faust.types import TP, CollectionT, EventT, Message, ProducerT, RecordMetadata, StreamT
from faust.types.tuples import FutureMessage, PendingMessage
from mode.utils.objects import cached_property
from mode.utils.queues import FlowControlEvent

#: aiokafka too: ``ConsumerThread`` sets a private attribute of its consumer.
PINNED: Final = {"faust-streaming": "0.15.3", "mode-streaming": "0.7.1", "aiokafka": "0.14.0"}


# Upstream: faust-streaming/faust#596 (open), "A race condition in recovery causes unrecoverable
# gaps in acked offsets": mode's FlowControlEvent.resume() clears every queue registered with
# clear_on_resume=True (all of Faust's stream queues), whether the flow was suspended or not.
class FlowControl(FlowControlEvent):
    """Faust's flow control, except that resuming a flow that already runs drops nothing.

    Each resume clears every stream's queue. After a rebalance, recovery resumes the flow to
    read the changelogs, then resumes the stream partitions and seeks them to their committed
    offsets, and only then resumes the flow again. Records handed to the agents in between
    were lost to that second clear: the batch fetched before the seek is still handed out
    after it, so the consumer's read position had moved past them, they were not fetched
    again, and the consumer committed past them as a gap. (faust-streaming #596 describes
    the same clear.) Queues still start empty after each rebalance: Faust suspends and clears
    the flow when partitions are revoked or assigned, and a resume after a suspend clears as
    before. What stays queued belongs to the current assignment; at worst a record is seen
    twice, which the agents' dedupe absorbs.
    """

    def resume(self) -> None:
        if self.is_active():
            return
        super().resume()


# Upstream: as FlowControl; faust.App.flow_control is the one place that makes the flow control.
# (fetch_max_wait_s is ours, read by ConsumerThread.)
class App(faust.App):
    #: How long a fetch waits at the broker (``ConsumerThread``); Faust's own is 1.5 s.
    fetch_max_wait_s: float = 1.5

    @cached_property
    def flow_control(self) -> FlowControlEvent:
        return FlowControl(loop=self.loop)


# Upstream: faust-streaming/faust#270 ("Producer hangs on send pending check with thread producer
# enabled") made ProducerBuffer.flush_atmost return after 0.1 s without a message sent, and
# faust-streaming/faust#273 ("flushing producer before commit") then flushed the buffer before each
# commit, relying on that flush. No issue reports the two together; we differ because a commit must
# come after the changelog rows of the records it covers, however long the buffer takes.
class DrainingProducerBuffer(ProducerBuffer):
    """Faust's producer buffer, with a ``flush`` that returns only once the buffer is empty.

    Table rows reach their changelog through this buffer, and the consumer flushes it right
    before committing offsets. Faust's own flush gives up after 0.1 s without a message sent,
    so on a busy worker offsets could be committed while the rows they stand for were still
    buffered: a kill -9 then lost those rows, and the restarted worker resumed after records
    whose effect its tables never saw.
    """

    def __post_init__(self) -> None:
        super().__post_init__()
        # Taken off the queue but not yet handed to Kafka's producer: ``size`` misses these.
        self.in_flight = 0

    async def _send_pending(self, fut: FutureMessage) -> None:
        self.in_flight += 1
        try:
            await super()._send_pending(fut)
        finally:
            self.in_flight -= 1

    async def flush(self) -> None:
        while self.size or self.in_flight:
            if self.state != "running":
                raise RuntimeError(f"Cannot flush: producer buffer is {self.state}")
            self.message_sent.clear()
            # The timeout only re-checks: another flusher may have cleared the event.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.message_sent.wait(), timeout=1.0)


# Upstream: no issue. The aiokafka driver's Producer._settings_extra() turns on enable_idempotence
# (with acks=all) only when app.in_transaction, that is under processing_guarantee="exactly_once",
# as it has since exactly-once came in (robinhood/faust#280). We run at_least_once (see
# streams/app.py) and still want the producer's own retries written once.
class IdempotentProducer(aiokafka_driver.Producer):
    """Faust's producer with Kafka's idempotence on outside transactions too: a retried send
    is written once (Faust enables it only under exactly_once, which is not used here), and
    with a buffer that is drained for good before offsets are committed."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Replaced before start: the producer starts its buffer as a dependency in on_start.
        self.buffer = DrainingProducerBuffer(loop=self.loop, beacon=self.beacon)
        self.buffer.app = self.app

    def _settings_extra(self) -> Mapping[str, Any]:
        return {**super()._settings_extra(), "enable_idempotence": True}


# Upstream: no issue. AIOKafkaConsumerThread._create_worker_consumer passes aiokafka
# fetch_max_wait_ms=1500, fixed since Faust's commit f6135cae (2018, before the faust-streaming
# fork), and no setting reaches it. The patch sets aiokafka's private
# AIOKafkaConsumer._fetch_max_wait_ms, which start() hands to its Fetcher: hence the aiokafka pin.
class ConsumerThread(aiokafka_driver.AIOKafkaConsumerThread):
    """Faust's consumer thread, with the broker's fetch wait of the app (``App``).

    Faust fixes it at 1.5 s. aiokafka keeps one fetch request in flight per broker, for the
    partitions that have no records buffered: while it waits for quiet partitions, a partition
    whose records were just handed out cannot be fetched again, so a busy agent's next batch
    waited up to 1.5 s behind its quiet neighbours."""

    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        consumer._fetch_max_wait_ms = round(cast(App, self.app).fetch_max_wait_s * 1000)
        return consumer


# Upstream: as ConsumerThread; aiokafka_driver.Consumer._new_consumer_thread is the one place that
# makes the thread.
class Consumer(aiokafka_driver.Consumer):
    def _new_consumer_thread(self) -> aiokafka_driver.AIOKafkaConsumerThread:
        return ConsumerThread(self, loop=self.loop, beacon=self.beacon)


# Upstream: no issue about the cost. faust.Worker.on_setup_root_logger, when the level is WARN or
# above and there is a spinner, sets the root handler to that level, adds a SpinnerHandler at DEBUG
# and sets the root logger itself to DEBUG. faust-streaming/faust#495 (open) is about the same
# spinner's output at -l warn. We differ because a worker's logs are JSON for a collector, not a
# terminal, and every filtered debug record still costs its formatting.
class Worker(faust.Worker):
    """Faust's worker without its terminal progress spinner. To feed the spinner, Faust sets
    the root logger to DEBUG and filters at the handler instead, so every library's debug
    record was built and then dropped (about 7 % of a busy worker's CPU, by py-spy), and the
    worker logged at Faust's WARN whatever ``log_level`` said."""

    def on_setup_root_logger(self, logger: logging.Logger, level: int) -> None:
        self.spinner = None


# Upstream: faust-streaming/faust#497 (open), "Writing into Table with Stream.take() not allowed":
# a table finds a key's partition from the stream's current event, which Faust sets only as it hands
# out records one at a time; Stream._set_current_event is private.
def set_current_event(stream: faust.StreamT[bytes], record: faust.EventT[bytes]) -> None:
    """Make ``record`` the stream's current event: tables find a key's partition (its RocksDB
    instance, its changelog partition) from it. Faust sets it as it hands out each record; an
    agent that takes a batch whole and then applies it sets it for each record itself."""
    cast(faust.Stream[bytes], stream)._set_current_event(record)


# Upstream: no issue. faust.sensors.Monitor, the sensor every app adds (App.on_init_dependencies),
# counts and times each message, stream event, table access and send in dictionaries keyed by
# topic, stream and task (a WeakKeyDictionary lookup per event): 3 % of a busy saga worker's
# time. Its statistics feed Faust's own web views, which this project does not serve; the
# processes' metrics are Prometheus' (shopstream.metrics).
class QuietMonitor(Monitor):
    """Faust's monitor without its per-record bookkeeping: it still follows commits,
    rebalances and assignments, which happen seldom."""

    def on_message_in(self, tp: TP, offset: int, message: Message) -> None:
        return None

    def on_stream_event_in(
        self, tp: TP, offset: int, stream: StreamT[Any], event: EventT[Any]
    ) -> dict[str, Any] | None:
        return None

    def on_stream_event_out(
        self,
        tp: TP,
        offset: int,
        stream: StreamT[Any],
        event: EventT[Any],
        state: dict[str, Any] | None = None,
    ) -> None:
        return None

    def on_message_out(self, tp: TP, offset: int, message: Message) -> None:
        return None

    def on_table_get(self, table: CollectionT, key: Any) -> None:
        return None

    def on_table_set(self, table: CollectionT, key: Any, value: Any) -> None:
        return None

    def on_send_initiated(
        self, producer: ProducerT, topic: str, message: PendingMessage, keysize: int, valsize: int
    ) -> Any:
        return None

    def on_send_completed(self, producer: ProducerT, state: Any, metadata: RecordMetadata) -> None:
        return None


# Upstream: no issue. The aiokafka driver's Transport makes its producer and consumers from its
# class attributes Producer and Consumer, and no setting chooses them.
def use_patched_transport(app: faust.App) -> None:
    """Make this app's transport build ``IdempotentProducer`` and ``Consumer``. Set on the
    transport instance, so the driver's class defaults, and any other app, stay as they are."""
    app.transport.Producer = IdempotentProducer  # type: ignore[misc]
    app.transport.Consumer = Consumer  # type: ignore[misc]


@dataclass(frozen=True)
class Patch:
    """A patch above, the upstream class it changes, and the attributes of that class it
    overrides or relies on (methods, properties, and attributes its instances are given)."""

    patch: type | Callable[..., object]
    upstream: type
    attributes: tuple[str, ...]

    @property
    def name(self) -> str:
        return self.patch.__name__


PATCHES: Final = (
    Patch(FlowControl, FlowControlEvent, ("resume", "is_active")),
    Patch(App, faust.App, ("flow_control",)),
    Patch(
        DrainingProducerBuffer,
        ProducerBuffer,
        ("__post_init__", "_send_pending", "flush", "size", "state", "message_sent"),
    ),
    Patch(IdempotentProducer, aiokafka_driver.Producer, ("_settings_extra", "buffer")),
    Patch(ConsumerThread, aiokafka_driver.AIOKafkaConsumerThread, ("_create_worker_consumer",)),
    Patch(ConsumerThread, aiokafka.AIOKafkaConsumer, ("_fetch_max_wait_ms",)),
    Patch(Consumer, aiokafka_driver.Consumer, ("_new_consumer_thread",)),
    Patch(use_patched_transport, aiokafka_driver.Transport, ("Producer", "Consumer")),
    Patch(Worker, faust.Worker, ("on_setup_root_logger", "spinner")),
    Patch(
        QuietMonitor,
        Monitor,
        (
            "on_message_in",
            "on_stream_event_in",
            "on_stream_event_out",
            "on_message_out",
            "on_table_get",
            "on_table_set",
            "on_send_initiated",
            "on_send_completed",
        ),
    ),
    Patch(set_current_event, faust.Stream, ("_set_current_event",)),
)
