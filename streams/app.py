"""The Faust app: built from settings, RocksDB tables, JSON logs, Prometheus metrics."""

from __future__ import annotations

import faust
from faust.web import Request, Response, View

from shopstream.logs import logging_config
from shopstream.metrics import exposition
from shopstream.settings import Settings, get_settings
from streams.channels import Channels
from streams.faust_patches import App, QuietMonitor, Worker, use_patched_transport
from streams.publisher import layout
from streams.topics import ORDERS_TABLE, STOCK_TABLE, TopicSpec, changelog_spec, changelog_topic


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
        producer_linger=settings.worker_producer_linger_s,
        topic_partitions=settings.topic_partitions,
        topic_replication_factor=settings.topic_replication_factor,
        topic_allow_declare=True,
        broker_session_timeout=settings.worker_session_timeout_s,
        broker_heartbeat_interval=settings.worker_session_timeout_s / 3,
        web_host=settings.worker_host,
        web_port=settings.ports.worker_web,
        logging_config=logging_config(settings.log_level),
        Worker=Worker,
        Monitor=QuietMonitor,
    )
    app.fetch_max_wait_s = settings.worker_fetch_max_wait_s
    use_patched_transport(app)

    @app.page("/metrics")
    async def metrics(view: View, request: Request) -> Response:
        body, content_type = exposition()
        # aiohttp takes the charset apart from the media type.
        return view.bytes(body, content_type=content_type.split(";", 1)[0])

    return app


settings = get_settings()
app = create_app(settings)
channels = Channels(
    app, layout(settings), settings.topic_replication_factor, settings.worker_app_id
)


def table(name: str) -> faust.types.TableT[bytes, bytes]:
    """A RocksDB-backed table of JSON rows by key, partitioned like the contract's topics."""
    return app.Table(name, key_type=bytes, value_type=bytes, partitions=settings.topic_partitions)


# The saga's tables whose changelogs a role's agents read as streams.
_FOLLOWED: dict[str, tuple[str, ...]] = {
    "projections": (ORDERS_TABLE, STOCK_TABLE),
    "notifications": (ORDERS_TABLE,),
}


def changelog_topics() -> list[TopicSpec]:
    """The changelogs this worker needs before Faust starts (import the agents first): those of
    its own tables, and, for the read models, those of the saga's tables that they follow."""
    names = {table.changelog_topic.get_topic_name() for table in app.tables.values()}
    for role in settings.worker_roles:
        names |= {
            changelog_topic(settings.worker_app_id, table) for table in _FOLLOWED.get(role, ())
        }
    return [changelog_spec(name, settings.topic_partitions) for name in sorted(names)]
