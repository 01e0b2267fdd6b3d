"""The saga and its followers in two workers, as the local stack runs them: the projections and
the notifications in a worker (and consumer group) of their own, following the saga's table
changelogs."""

from __future__ import annotations

from pathlib import Path

import asyncpg
from aiokafka.admin import AIOKafkaAdminClient

from shopstream.settings import Settings
from streams.contract import OrderStatus
from streams.projections.history import order_timeline
from streams.projections.order_status import get_order
from streams.projections.stock import get_stock_levels
from streams.publisher import layout
from streams.topics import ORDERS_TABLE, PAYMENTS_COMMANDS, changelog_topic
from tests.integration.polling import eventually
from tests.integration.saga.conftest import running_saga


async def test_a_worker_without_the_saga_keeps_the_read_models_of_the_saga(
    stack_settings: Settings, tmp_path: Path, sku: str
) -> None:
    async with running_saga(stack_settings, tmp_path) as saga:
        await saga.stock_up(sku, 5)
        order = await saga.place([(sku, 2)])
        await saga.reaches(order.order_id, "delivered")

        pool = await asyncpg.create_pool(
            stack_settings.database_url.get_secret_value(), min_size=1, max_size=1
        )
        try:

            async def read_models_settled() -> bool:
                detail = await get_order(pool, order.order_id)
                levels = await get_stock_levels(pool, [sku])
                return (
                    detail is not None
                    and detail.status is OrderStatus.DELIVERED
                    and sku in levels
                    and (levels[sku].on_hand, levels[sku].reserved) == (3, 0)
                )

            await eventually(read_models_settled, "the order and its stock in PostgreSQL")
        finally:
            await pool.close()

        async def history_delivered() -> list[str] | None:  # the history writes in batches
            timeline = await order_timeline(saga.worker.settings, order.order_id)
            kinds = [entry.type for entry in timeline]
            return kinds if "ShipmentDelivered" in kinds else None

        kinds = await eventually(history_delivered, "ShipmentDelivered in the history")
        assert kinds[0] == "OrderPlaced" and "ShipmentDelivered" in kinds, kinds

        # The orders table's changelog was read by the projections' group, not by the saga's
        # (each group commits what it read every few seconds).
        topics = layout(saga.worker.settings)
        snapshots = changelog_topic(saga.worker.app_id, ORDERS_TABLE)
        commands = topics.spec(PAYMENTS_COMMANDS).name
        saga_group, projections_group = saga.worker.app_id, saga.projector.label
        admin = AIOKafkaAdminClient(bootstrap_servers=stack_settings.kafka_bootstrap_servers)
        await admin.start()
        try:

            async def both_committed() -> tuple[set[str], set[str]] | None:
                saga_read = await _committed_topics(admin, saga_group)
                projections_read = await _committed_topics(admin, projections_group)
                if commands in saga_read and snapshots in projections_read:
                    return saga_read, projections_read
                return None

            saga_read, projections_read = await eventually(
                both_committed, "both groups' offsets committed"
            )
            assert snapshots not in saga_read
            assert commands not in projections_read
        finally:
            await admin.close()


async def _committed_topics(admin: AIOKafkaAdminClient, group: str) -> set[str]:
    return {tp.topic for tp in await admin.list_consumer_group_offsets(group)}
