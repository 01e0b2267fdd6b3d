"""The Faust app: built from settings, RocksDB tables, JSON logs, Prometheus metrics."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from typing import Any

import faust
from faust.transport.drivers import aiokafka as aiokafka_driver
from faust.transport.producer import ProducerBuffer
from faust.types.tuples import FutureMessage
from faust.web import Request, Response, View
from mode.utils.objects import cached_property
from mode.utils.queues import FlowControlEvent

from shopstream.logs import logging_config
from shopstream.metrics import exposition
from shopstream.settings import Settings, get_settings
from streams.channels import Channels
from streams.publisher import layout
from streams.topics import ORDERS_TABLE, STOCK_TABLE, TopicSpec, changelog_topic


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
    """Faust's consumer thread, with the broker's fetch wait from the settings.

    Faust fixes it at 1.5 s. aiokafka keeps one fetch request in flight per broker, for the
    partitions that have no records buffered: while it waits for quiet partitions, a partition
    whose records were just handed out cannot be fetched again, so a busy agent's next batch
    waited up to 1.5 s behind its quiet neighbours."""

    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        consumer._fetch_max_wait_ms = round(settings.worker_fetch_max_wait_s * 1000)
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


def consumer_group(settings: Settings) -> str:
    """The worker's Faust app id: its consumer group and its tables' namespace.

    Workers running the saga share the saga's group and tables. A worker without the saga
    (the projections) reads some of the same topics, all of them for itself: it is a group of
    its own, named after its roles.
    """
    if "saga" in settings.worker_roles:
        return settings.worker_app_id
    return "-".join((settings.worker_app_id, *sorted(settings.worker_roles)))


def create_app(settings: Settings) -> faust.App:
    servers = ";".join(
        f"kafka://{server}" for server in settings.kafka_bootstrap_servers.split(",")
    )
    app = App(
        consumer_group(settings),
        broker=servers,
        store="rocksdb://",  # rocksdict-backed: tables live on local disk, changelogs in Kafka
        datadir=str(settings.worker_data_dir or settings.state_dir / "worker"),
        # Not exactly_once: faust-streaming has open duplicate/crash bugs there; handlers are
        # idempotent instead (dedupe by event_id, state-machine guards).
        processing_guarantee="at_least_once",
        producer_acks=-1,
        topic_partitions=settings.topic_partitions,
        topic_replication_factor=settings.topic_replication_factor,
        topic_allow_declare=True,
        broker_session_timeout=settings.worker_session_timeout_s,
        broker_heartbeat_interval=settings.worker_session_timeout_s / 3,
        web_host=settings.worker_host,
        web_port=settings.ports.worker_web,
        logging_config=logging_config(settings.log_level),
        Worker=Worker,
    )

    # On this app's transport only: the instance attributes shadow the driver's class defaults.
    app.transport.Producer = IdempotentProducer  # type: ignore[misc]
    app.transport.Consumer = Consumer  # type: ignore[misc]

    @app.page("/metrics")
    async def metrics(view: View, request: Request) -> Response:
        body, content_type = exposition()
        # aiohttp takes the charset apart from the media type.
        return view.bytes(body, content_type=content_type.split(";", 1)[0])

    return app


settings = get_settings()
app = create_app(settings)
channels = Channels(app, layout(settings), settings.topic_replication_factor)


def table(name: str) -> faust.types.TableT[bytes, bytes]:
    """A RocksDB-backed table of JSON rows by key, partitioned like the contract's topics."""
    return app.Table(name, key_type=bytes, value_type=bytes, partitions=settings.topic_partitions)


def changelog_topics() -> list[TopicSpec]:
    """The changelogs this worker needs before Faust starts (import the agents first): those of
    its own tables, and, for the read models, those of the saga's tables that they follow."""
    names = {table.changelog_topic.get_topic_name() for table in app.tables.values()}
    if "projections" in settings.worker_roles:
        names |= {
            changelog_topic(settings.worker_app_id, table) for table in (ORDERS_TABLE, STOCK_TABLE)
        }
    return [
        TopicSpec(
            name=name,
            key_field=None,
            partitions=settings.topic_partitions,
            compacted=True,
            dead_letter=False,
        )
        for name in sorted(names)
    ]
