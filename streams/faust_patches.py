"""Where this project changes Faust's (and mode's) behaviour, all in one place.

Each class below overrides a part of faust-streaming or mode, some of them private, for a
reason its docstring gives. They were written against the versions in ``PINNED``; a test
(``tests/unit/streams/test_faust_patches.py``) fails when the installed versions differ, so an
upgrade starts here: check each patch against the new code, then move the pins.

- ``FlowControl`` (with ``App``): a resume of a running flow clears no queue
  (faust-streaming #596 describes the clear).
- ``DrainingProducerBuffer`` (with ``IdempotentProducer``): a flush before a commit waits for
  the whole buffer, table rows included; the producer is idempotent outside transactions too.
- ``ConsumerThread`` (with ``Consumer``): the broker's fetch wait is a setting, not 1.5 s.
- ``Worker``: no terminal spinner, whose logging setup built every library's debug record.
- ``set_current_event``: agents that apply a batch of records name the record whose partition
  the tables use, as Faust does for one record at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from typing import Any, Final, cast

import faust
from faust.transport.drivers import aiokafka as aiokafka_driver
from faust.transport.producer import ProducerBuffer
from faust.types.tuples import FutureMessage
from mode.utils.objects import cached_property
from mode.utils.queues import FlowControlEvent

PINNED: Final = {"faust-streaming": "0.15.3", "mode-streaming": "0.7.1"}


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


class App(faust.App):
    #: How long a fetch waits at the broker (``ConsumerThread``); Faust's own is 1.5 s.
    fetch_max_wait_s: float = 1.5

    @cached_property
    def flow_control(self) -> FlowControlEvent:
        return FlowControl(loop=self.loop)


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


class Consumer(aiokafka_driver.Consumer):
    def _new_consumer_thread(self) -> aiokafka_driver.AIOKafkaConsumerThread:
        return ConsumerThread(self, loop=self.loop, beacon=self.beacon)


class Worker(faust.Worker):
    """Faust's worker without its terminal progress spinner. To feed the spinner, Faust sets
    the root logger to DEBUG and filters at the handler instead, so every library's debug
    record was built and then dropped (about 7 % of a busy worker's CPU, by py-spy), and the
    worker logged at Faust's WARN whatever ``log_level`` said."""

    def on_setup_root_logger(self, logger: logging.Logger, level: int) -> None:
        self.spinner = None


def set_current_event(stream: faust.StreamT[bytes], record: faust.EventT[bytes]) -> None:
    """Make ``record`` the stream's current event: tables find a key's partition (its RocksDB
    instance, its changelog partition) from it. Faust sets it as it hands out each record; an
    agent that takes a batch whole and then applies it sets it for each record itself."""
    cast(faust.Stream[bytes], stream)._set_current_event(record)
