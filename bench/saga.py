"""Orders through the saga to PAID, at max rate and at half of it, beside a raw Kafka loop.

    .venv/bin/python -m bench.saga [--seconds 60] [--skus 20] [--workers one,two]

Starts the local stack if needed, then for each arrangement of workers a set of its own (own
topics, consumer group and data): ``one`` saga worker (the saga's and the notifications'
agents) beside a projector (the read models), as the local stack runs them; ``two`` saga
workers in one consumer group, sharing the partitions, beside a projector. For each:
1. max rate: orders published for ``--seconds`` as fast as the saga pays them (at most
   ``--in-flight`` placed and not yet paid); throughput is the orders that reached PAID over
   the time until the last one did;
2. half of that rate, paced: latency place -> PAID (p50/p95/p99);
and, at max rate, the workers' CPU time per order and the records produced (to every topic,
changelogs included) and consumed (committed offsets of the workers' groups) per order, every
hop of the order up to delivery included.
Then the baseline: the fastest honest raw aiokafka loop (getmany, send the whole batch, await
its acknowledgements once, commit) over as many records as the saga consumes per order. The
ratio is the saga's records consumed per second over the raw loop's. Machines here are noisy:
compare figures from one run, not across runs.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from ops.order_commands import new_order
from shopstream.settings import PROJECTOR_ROLES, Settings, get_settings
from stack import control
from stack.environment import use_local_stack
from streams.contract import (
    AdjustStock,
    OrderLine,
    OrderStatus,
    decode,
    decode_order_update,
    encode,
)
from streams.projections.history import history_client
from streams.publisher import EventPublisher
from streams.testing import IsolatedCarrier, IsolatedWorker
from streams.topics import ORDERS_TABLE, changelog_topic

PAID_MARK = f'"to_status":"{OrderStatus.PAID.value}"'.encode()


class PaidTracker:
    """When each order reached PAID, from the status changes in the orders changelog."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.paid: dict[str, datetime] = {}
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        consumer = AIOKafkaConsumer(bootstrap_servers=self.settings.kafka_bootstrap_servers)
        await consumer.start()
        topic = changelog_topic(self.settings.worker_app_id, ORDERS_TABLE)
        consumer.assign([TopicPartition(topic, p) for p in range(self.settings.topic_partitions)])
        await consumer.seek_to_beginning()
        self._task = asyncio.create_task(self._run(consumer))

    async def _run(self, consumer: AIOKafkaConsumer) -> None:
        try:
            async for record in consumer:
                # Decoded only when it may be a PAID: this process shares the CPU with the saga.
                if record.value is None or PAID_MARK not in record.value:
                    continue
                for change in decode_order_update(record.value).status_changes:
                    if change.to_status is OrderStatus.PAID:
                        self.paid[change.order_id] = change.occurred_at
        finally:
            await consumer.stop()

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()

    async def wait_for(self, order_ids: list[str], timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while not all(order_id in self.paid for order_id in order_ids):
            if time.monotonic() > deadline:
                missing = sum(order_id not in self.paid for order_id in order_ids)
                raise TimeoutError(f"{missing} orders not paid within {timeout_s:.0f}s")
            await asyncio.sleep(0.1)


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process so far (Linux's /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


IDLE_S = 2.0


async def until_settled(settings: Settings, groups: list[str], pids: list[int]) -> None:
    """Until the workers' groups have committed every record on the topics they read and every
    worker has been quiet (under 5 % of a core) for IDLE_S: the shipping and projection tail of
    a phase is done, and the next phase starts on an empty pipeline. (A count of records
    applied is no sign: one batch may take longer than IDLE_S.)"""
    while True:
        if await lag(settings, groups) == 0:
            before = [cpu_seconds(pid) for pid in pids]
            await asyncio.sleep(IDLE_S)
            after = [cpu_seconds(pid) for pid in pids]
            if all(b - a < 0.05 * IDLE_S for a, b in zip(before, after, strict=True)):
                return
        else:
            await asyncio.sleep(IDLE_S)


async def lag(settings: Settings, groups: list[str]) -> int:
    """Records on the groups' topics that they have not committed yet."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    await admin.start()
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap_servers)
    await consumer.start()
    try:
        behind = 0
        for group in groups:
            committed = await admin.list_consumer_group_offsets(group)
            ends = await consumer.end_offsets(list(committed))
            behind += sum(ends[tp] - max(meta.offset, 0) for tp, meta in committed.items())
        return behind
    finally:
        await consumer.stop()
        await admin.close()


async def records_written(settings: Settings, app_id: str) -> Counter[str]:
    """Every record on the worker's topics and its tables' changelogs so far, by topic."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    await admin.start()
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap_servers)
    await consumer.start()
    try:
        ours = [
            name
            for name in await admin.list_topics()
            if name.startswith((settings.topic_prefix, f"{app_id}-"))
        ]
        partitions = [
            TopicPartition(topic["topic"], partition["partition"])
            for topic in await admin.describe_topics(ours)
            for partition in topic["partitions"]
        ]
        written: Counter[str] = Counter()
        for partition, end in (await consumer.end_offsets(partitions)).items():
            written[partition.topic.removeprefix(settings.topic_prefix)] += end
        return written
    finally:
        await consumer.stop()
        await admin.close()


async def records_read(settings: Settings, groups: list[str]) -> int:
    """Records the consumer groups have consumed (and committed) so far."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    await admin.start()
    try:
        total = 0
        for group in groups:
            offsets = await admin.list_consumer_group_offsets(group)
            total += sum(meta.offset for meta in offsets.values() if meta.offset > 0)
        return total
    finally:
        await admin.close()


async def place_orders(
    publisher: EventPublisher,
    skus: list[str],
    seconds: float,
    rate: float | None,
    tracker: PaidTracker,
    in_flight: int,
) -> dict[str, datetime]:
    """Orders published for ``seconds``: paced at ``rate``/s, or (``None``) as fast as the saga
    pays them, with at most ``in_flight`` placed and not yet paid: max rate is what the saga
    sustains, not how fast a backlog can be piled up in Kafka."""
    sent: dict[str, datetime] = {}
    started = time.perf_counter()
    pending = []
    index = 0
    while (elapsed := time.perf_counter() - started) < seconds:
        if rate is not None and index >= elapsed * rate:
            await asyncio.sleep(min(0.005, index / rate - elapsed))
            continue
        if rate is None and index - len(tracker.paid.keys() & sent.keys()) >= in_flight:
            await asyncio.sleep(0.005)
            continue
        order = new_order(
            [OrderLine(sku=skus[index % len(skus)], quantity=1, unit_price_cents=999)], "tok_visa"
        )
        sent[order.order_id] = datetime.now(UTC)
        pending.append(
            await publisher.producer.send(
                publisher.layout.for_event(order).name, encode(order), key=order.key.encode()
            )
        )
        index += 1
        if len(pending) >= 200:
            await asyncio.gather(*pending)
            pending.clear()
    await asyncio.gather(*pending)
    return sent


def report(name: str, sent: dict[str, datetime], paid: dict[str, datetime]) -> tuple[float, float]:
    """Prints and returns the phase's orders/s to PAID and its p99 place -> PAID in ms."""
    first = min(sent.values())
    last = max(paid[order_id] for order_id in sent)
    throughput = len(sent) / (last - first).total_seconds()
    latencies = sorted((paid[o] - sent[o]).total_seconds() * 1000 for o in sent)
    q = statistics.quantiles(latencies, n=100)
    print(
        f"{name:<22} {len(sent):>6} orders  {throughput:8.1f} orders/s to PAID   "
        f"place->PAID p50 {q[49]:7.1f} ms  p95 {q[94]:7.1f} ms  p99 {q[98]:7.1f} ms",
        flush=True,
    )
    return throughput, q[98]


async def raw_loop(settings: Settings, records: int, payload: bytes) -> float:
    """Records/s of the fastest honest consume -> produce loop between two topics: getmany,
    decode each record (the agents decode every record too), send the whole batch, await its
    acknowledgements (acks=all) once, commit."""
    run = uuid.uuid4().hex[:8]
    source, sink = f"bench-raw-{run}-in", f"bench-raw-{run}-out"
    servers = settings.kafka_bootstrap_servers
    admin = AIOKafkaAdminClient(bootstrap_servers=servers)
    await admin.start()
    await admin.create_topics(
        [
            NewTopic(name, settings.topic_partitions, settings.topic_replication_factor)
            for name in (source, sink)
        ]
    )
    await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=servers, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        batch = [await producer.send(source, payload, key=str(i).encode()) for i in range(records)]
        await asyncio.gather(*batch)
        consumer = AIOKafkaConsumer(
            source,
            bootstrap_servers=servers,
            group_id=f"bench-raw-{run}",
            auto_offset_reset="earliest",
            enable_auto_commit=False,
        )
        await consumer.start()
        try:
            done = 0
            started = time.perf_counter()
            while done < records:
                deliveries = []
                for batch_records in (await consumer.getmany(timeout_ms=500)).values():
                    for record in batch_records:
                        decode(record.value)
                        deliveries.append(await producer.send(sink, record.value, key=record.key))
                await asyncio.gather(*deliveries)
                await consumer.commit()
                done += len(deliveries)
            return records / (time.perf_counter() - started)
        finally:
            await consumer.stop()
    finally:
        await producer.stop()
        admin = AIOKafkaAdminClient(bootstrap_servers=servers)
        await admin.start()
        await admin.delete_topics([source, sink])
        await admin.close()


@dataclass(frozen=True)
class Phases:
    """What one arrangement of workers sustained."""

    arrangement: str  # "one" worker, "two" in one group, or "split"
    max_rate: float  # orders/s to PAID
    p99_at_half_ms: float
    cpu_ms: dict[str, float]  # CPU per order at max rate, by worker
    produced: float  # records written per order (changelogs included), to delivery
    consumed: float  # records consumed per order by the workers' groups


async def delete_history(settings: Settings, table: str) -> None:
    async with history_client(settings) as client:
        with contextlib.suppress(client.exceptions.ResourceNotFoundException):
            await client.delete_table(TableName=table)


def arranged(settings: Settings, arrangement: str) -> dict[str, IsolatedWorker]:
    folder = Path(tempfile.mkdtemp(prefix="shopstream-bench-"))
    # A history table of its own: moto's query time grows with every item a table holds.
    history = f"bench-history-{uuid.uuid4().hex[:8]}"
    saga = IsolatedWorker(
        settings,
        folder,
        "bench",
        SHOPSTREAM_LOG_LEVEL="WARNING",
        SHOPSTREAM_HISTORY_TABLE=history,
    )
    projector = saga.beside(PROJECTOR_ROLES)
    match arrangement:
        case "one":
            return {"worker": saga, "projector": projector}
        case "two":
            return {"worker": saga, "worker-2": saga.replica(1), "projector": projector}
    raise ValueError(f"unknown arrangement {arrangement!r}: one or two")


async def run_phases(
    settings: Settings, arrangement: str, seconds: float, sku_count: int, in_flight: int
) -> Phases:
    """Max rate, then half of it, through a fresh set of workers and carrier simulator."""
    workers = arranged(settings, arrangement)
    worker = workers["worker"]
    # The saga's workers are one group; a worker without the saga, a group named after its roles.
    groups = [worker.app_id] + [workers["projector"].label] * ("projector" in workers)
    # Paid orders go on to the carrier over AMQP; its simulator answers, as in production.
    carrier = IsolatedCarrier(worker, SHOPSTREAM_LOG_LEVEL="WARNING")
    publisher = EventPublisher(worker.settings)
    await publisher.start()
    for process in workers.values():
        process.start()
    carrier.start()
    tracker = PaidTracker(worker.settings)
    try:
        for process in workers.values():
            await process.wait_web()
        await carrier.wait_ready()
        await tracker.start()
        skus = [f"BENCH-{n:03d}" for n in range(sku_count)]
        await publisher.publish([AdjustStock(sku=sku, set_to=10_000_000) for sku in skus])
        warmup = await place_orders(publisher, skus, 2.0, 20, tracker, in_flight)
        await tracker.wait_for(list(warmup), 120)
        pids = {name: process.process.pid for name, process in workers.items() if process.process}
        everyone = [*pids.values(), *([carrier.process.pid] if carrier.process else [])]
        await until_settled(settings, groups, everyone)
        print(f"{arrangement}: {', '.join(workers)}; {sku_count} SKUs, phases of {seconds:.0f}s")

        cpu_before = {name: cpu_seconds(pid) for name, pid in pids.items()}
        written_before = await records_written(worker.settings, worker.app_id)
        read_before = await records_read(settings, groups)
        at_max = await place_orders(publisher, skus, seconds, None, tracker, in_flight)
        await tracker.wait_for(list(at_max), 600)
        max_rate, _ = report("max rate", at_max, tracker.paid)
        await until_settled(settings, groups, everyone)
        cpu_ms = {
            name: (cpu_seconds(pid) - cpu_before[name]) * 1000 / len(at_max)
            for name, pid in pids.items()
        }
        written = await records_written(worker.settings, worker.app_id)
        written.subtract(written_before)
        produced = written.total() / len(at_max)
        consumed = (await records_read(settings, groups) - read_before) / len(at_max)
        print(
            "per order at max rate, to delivery: CPU "
            + ", ".join(f"{n} {ms:.1f} ms" for n, ms in cpu_ms.items())
            + f"; records produced {produced:.1f}, consumed {consumed:.1f}",
            flush=True,
        )
        print(
            "  produced per order by topic: "
            + ", ".join(
                f"{topic.removeprefix(worker.app_id + '-')} {count / len(at_max):.1f}"
                for topic, count in written.most_common()
                if count
            ),
            flush=True,
        )

        paced = await place_orders(publisher, skus, seconds, max_rate / 2, tracker, in_flight)
        await tracker.wait_for(list(paced), 600)
        _, p99 = report(f"fixed {max_rate / 2:.0f}/s (half max)", paced, tracker.paid)
        return Phases(arrangement, max_rate, p99, cpu_ms, produced, consumed)
    finally:
        tracker.stop()
        await publisher.stop()
        for process in workers.values():
            process.stop()
        carrier.stop()
        await worker.delete_topics()
        carrier.delete_queues()
        await delete_history(settings, worker.env["SHOPSTREAM_HISTORY_TABLE"])


async def main(seconds: float, sku_count: int, arrangements: list[str], in_flight: int) -> None:
    settings = use_local_stack(get_settings())
    await control.up(settings, control.select(settings), lambda message: None)
    results = []
    for arrangement in arrangements:
        results.append(await run_phases(settings, arrangement, seconds, sku_count, in_flight))
        print(flush=True)

    sample = encode(
        new_order([OrderLine(sku="BENCH-000", quantity=1, unit_price_cents=999)], "tok_visa")
    )
    raw = await raw_loop(settings, 50_000, sample)
    print(f"raw consume->produce loop: {raw:8.1f} records/s")
    print("CPU per order: the saga's workers, and the projector's apart")
    print(
        f"{'workers':<7} {'orders/s':>9} {'p99 half':>9} {'saga CPU':>9} {'projector':>9} "
        f"{'produced':>9} {'consumed':>9} {'records/s':>10} ratio"
    )
    for result in results:
        records = result.max_rate * result.consumed
        saga_cpu = sum(ms for name, ms in result.cpu_ms.items() if name != "projector")
        projector = result.cpu_ms.get("projector")
        print(
            f"{result.arrangement:<7} {result.max_rate:9.1f} {result.p99_at_half_ms:7.0f}ms "
            f"{saga_cpu:7.1f}ms {'-' if projector is None else f'{projector:.1f}ms':>9} "
            f"{result.produced:9.1f} {result.consumed:9.1f} {records:10.1f} {records / raw:5.3f}"
        )
    if len(results) == 2:
        first, second = results
        print(
            f"{second.arrangement} / {first.arrangement}: "
            f"orders/s x{second.max_rate / first.max_rate:.2f}, "
            f"p99 at half max x{second.p99_at_half_ms / first.p99_at_half_ms:.2f}"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--skus", type=int, default=20)
    parser.add_argument(
        "--workers",
        default="one,two",
        help="one: a saga worker beside a projector (as the local stack runs them); two: two "
        "saga workers in one group beside a projector; one after the other, in the order given",
    )
    parser.add_argument(
        "--in-flight", type=int, default=2000, help="at max rate, orders placed and not yet paid"
    )
    arguments = parser.parse_args()
    asyncio.run(
        main(arguments.seconds, arguments.skus, arguments.workers.split(","), arguments.in_flight)
    )
