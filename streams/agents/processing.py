"""How every agent applies its records: a batch at a time, each decided, all published, one wait.

A batch is what the agent's queue holds when the agent comes back for more, up to
``agent_batch_size`` records: at a trickle a record is a batch of its own and waits for no
window; under load, records pile up while a batch is applied, and the next batch is larger.
For each batch:

1. every record is decoded and decided in turn. A decision's row is staged in the agent's
   tables at once (``StagedTable``), so the next record of the same key is decided against
   it: per-key order holds inside a batch as across batches;
2. every output and every dead letter is handed to the producer, none awaited alone;
3. the agent waits once for Kafka to acknowledge them all;
4. the staged rows are stored in the tables (Faust writes them to their changelogs);
5. the batch's records are acknowledged, so that their offsets may be committed. Faust flushes
   its producer buffer, changelog rows included, before it commits offsets
   (``streams.faust_patches.DrainingProducerBuffer``).

A crash anywhere before step 5 replays the whole batch from the rows as they were before it:
the decisions are made again, their outputs carry the same derived ids, and every consumer
dedupes by id. That is what keeps "nothing lost" under at-least-once delivery.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Generic, TypeAlias, TypeVar

import faust
from pydantic import BaseModel

from shopstream import tracing
from shopstream.logs import get_logger, record_context
from shopstream.metrics import STREAM_BATCH_DURATION, STREAM_BATCH_SIZE, STREAM_EVENTS
from shopstream.tracing import SpanContext
from streams import kafka_tracing
from streams.app import settings
from streams.channels import Channels
from streams.contract import AnyEvent, ContractError, EventBase, decode
from streams.faust_patches import set_current_event

log = get_logger(__name__)


@dataclass(frozen=True)
class Outcome:
    """What applying one record led to. ``stored`` runs once the batch's rows are stored."""

    events: Sequence[EventBase] = ()
    stored: Callable[[], None] | None = None
    duplicate: bool = False
    refused: str | None = None
    # The span of applying the record, when traced: its outputs are sent as its children.
    trace: SpanContext | None = None


Apply = Callable[[AnyEvent, datetime], Awaitable[Outcome]]
Row = TypeVar("Row")
ModelRow = TypeVar("ModelRow", bound=BaseModel)
Result = TypeVar("Result")


class StagedTable(Generic[Row]):
    """A table as a batch in progress sees it: rows decided in this batch and not stored yet
    shadow the table's own, and reach the table only when ``store`` is called, after the
    batch's outputs are acknowledged. A staged row is kept decoded, and encoded once when
    stored: a key that comes up again and again in a batch (a busy SKU) is parsed once and
    written once, to the table and to its changelog, however many records changed it. Rows
    stay decoded across batches too, while the table holds the same bytes.

    Faust finds a row's partition (its RocksDB instance, its changelog partition) from the
    event being processed, so each row is read and written while the record that last
    changed it is the stream's current event (``set_current_event``)."""

    def __init__(
        self,
        table: faust.types.TableT[bytes, bytes],
        parse: Callable[[bytes], Row],
        dump: Callable[[Row], bytes],
    ) -> None:
        self.table = table
        self.parse = parse
        self.dump = dump
        self._staged: dict[bytes, tuple[Row, faust.EventT[bytes]]] = {}
        self._decoded: dict[bytes, tuple[bytes, Row]] = {}
        self._cache_size = settings.agent_row_cache_size

    @classmethod
    def of_model(
        cls, table: faust.types.TableT[bytes, bytes], model: type[ModelRow]
    ) -> StagedTable[ModelRow]:
        """Rows of a pydantic model, kept as its JSON."""
        return StagedTable(table, model.model_validate_json, _model_json)

    def get(self, key: bytes) -> Row | None:
        if (staged := self._staged.get(key)) is not None:
            return staged[0]
        raw = self.table.get(key)
        if raw is None:
            return None
        # The row as this agent last stored or read it, if the table still holds those bytes
        # (after a rebalance another worker may have written it since).
        cached = self._decoded.get(key)
        if cached is not None and cached[0] == raw:
            return cached[1]
        row = self.parse(raw)
        self._remember(key, raw, row)
        return row

    def staged(self, key: bytes) -> Row | None:
        """The row decided in this batch and not stored yet, if any."""
        staged = self._staged.get(key)
        return None if staged is None else staged[0]

    def stage(self, key: bytes, row: Row) -> None:
        record = faust.current_event()
        if record is None:
            raise RuntimeError("a row can only be staged while a record is being applied")
        self._staged[key] = (row, record)

    def store(self, stream: faust.StreamT[bytes]) -> None:
        for key, (row, record) in self._staged.items():
            set_current_event(stream, record)
            raw = self.dump(row)
            self.table[key] = raw
            self._remember(key, raw, row)
        self._staged.clear()

    def discard(self) -> None:
        self._staged.clear()

    def _remember(self, key: bytes, raw: bytes, row: Row) -> None:
        self._decoded.pop(key, None)  # to the end: the oldest are the first to go
        self._decoded[key] = (raw, row)
        if len(self._decoded) > self._cache_size:
            del self._decoded[next(iter(self._decoded))]


def _model_json(row: BaseModel) -> bytes:
    return row.model_dump_json().encode()


async def batches(stream: faust.StreamT[bytes]) -> AsyncIterator[list[faust.EventT[bytes]]]:
    """The stream's records in batches: what is queued when the agent asks, up to
    ``agent_batch_size``. A batch's records are acknowledged when the next batch is asked
    for, that is once the caller has applied it."""
    limit = settings.agent_batch_size
    queue = stream.channel.queue  # type: ignore[attr-defined]
    stream.enable_acks = False
    batch: list[faust.EventT[bytes]] = []
    async for record in stream.events():
        batch.append(record)
        if len(batch) < limit and not queue.empty():
            continue
        yield batch
        for done in batch:
            await stream.ack(done)
        batch = []


async def applied(
    agent: str,
    stream: faust.StreamT[bytes],
    channels: Channels,
    apply: Apply,
    tables: Sequence[StagedTable[Any]] = (),
    *,
    keys_at_once: bool = False,
) -> AsyncIterator[str]:
    """Apply the stream's records a batch at a time, yielding what became of each record
    (``applied``, ``duplicate``, ``dead_lettered``) once its batch is fully handled.

    ``keys_at_once``: the records of different keys are decided concurrently (each key's in
    order), for an agent whose decisions wait on a remote call, such as a charge.

    An agent yields these on: Faust then reports each record as done only after the outputs
    are acknowledged and the rows stored, which is what ``agent.test_context().put`` waits for.
    """
    async for batch in batches(stream):
        started = time.perf_counter()
        try:
            decided = await _decide_all(agent, stream, batch, apply, keys_at_once)
            results = await _conclude(stream, batch, decided, channels, tables)
        except BaseException:
            # The agent stops here; the batch is replayed from the rows as they were.
            for table in tables:
                table.discard()
            raise
        STREAM_BATCH_SIZE.labels(agent).observe(len(batch))
        STREAM_BATCH_DURATION.labels(agent).observe(time.perf_counter() - started)
        for (kind, result), count in Counter(results).items():
            STREAM_EVENTS.labels(agent, kind, result).inc(count)
        for _, result in results:
            yield result


async def consume(
    agent: str,
    stream: faust.StreamT[bytes],
    channels: Channels,
    apply: Apply,
    tables: Sequence[StagedTable[Any]] = (),
    *,
    keys_at_once: bool = False,
) -> None:
    async for _ in applied(agent, stream, channels, apply, tables, keys_at_once=keys_at_once):
        pass


Decided: TypeAlias = tuple[str, Outcome]  # the record's event type, and what to do


async def _decide_all(
    agent: str,
    stream: faust.StreamT[bytes],
    batch: Sequence[faust.EventT[bytes]],
    apply: Apply,
    keys_at_once: bool,
) -> list[Decided]:
    async def decide(record: faust.EventT[bytes]) -> Decided:
        set_current_event(stream, record)
        return await _decide(agent, record.message, apply)

    if not keys_at_once:
        return [await decide(record) for record in batch]
    return await each_key_in_turn(batch, decide)


async def each_key_in_turn(
    records: Sequence[faust.EventT[bytes]],
    handle: Callable[[faust.EventT[bytes]], Awaitable[Result]],
) -> list[Result]:
    """``handle`` for every record: the keys at once, each key's records in turn; the results
    in the records' order. Each key is a task of its own (gather), so each key's current
    event is its own."""
    by_key: dict[bytes | None, list[int]] = {}
    for position, record in enumerate(records):
        by_key.setdefault(record.message.key, []).append(position)
    results: dict[int, Result] = {}

    async def in_turn(positions: list[int]) -> None:
        for position in positions:
            results[position] = await handle(records[position])

    await asyncio.gather(*(in_turn(positions) for positions in by_key.values()))
    return [results[position] for position in range(len(records))]


async def dead_letter_all(
    agent: str, channels: Channels, refused: Sequence[tuple[faust.types.Message, str]]
) -> None:
    """Every refused record on the dead-letter topic with its reason, each logged, all
    acknowledged by Kafka before the batch's offsets can be committed."""
    deliveries = []
    for message, reason in refused:
        source = f"{message.topic}/{message.partition}/{message.offset}"
        log.warning("dead-lettered", agent=agent, reason=reason, source=source)
        deliveries.append(await channels.send_dead_letter(message, reason))
    for delivery in deliveries:
        await delivery


async def _conclude(
    stream: faust.StreamT[bytes],
    batch: Sequence[faust.EventT[bytes]],
    decided: Sequence[Decided],
    channels: Channels,
    tables: Sequence[StagedTable[Any]],
) -> list[tuple[str, str]]:
    """Publish every output, wait once for all, store the rows; returns each record's event
    type and what became of it."""
    deliveries: list[Awaitable[object]] = []
    results: list[tuple[str, str]] = []
    for record, (kind, outcome) in zip(batch, decided, strict=True):
        if outcome.refused is not None:
            deliveries.append(await channels.send_dead_letter(record.message, outcome.refused))
            results.append((kind, "dead_lettered"))
            continue
        deliveries.extend(await channels.send(outcome.events, outcome.trace))
        results.append((kind, "duplicate" if outcome.duplicate else "applied"))
    for delivery in deliveries:
        await delivery
    for table in tables:
        table.store(stream)
    for _, outcome in decided:
        if outcome.stored is not None and outcome.refused is None:
            outcome.stored()
    return results


async def _decide(agent: str, message: faust.types.Message, apply: Apply) -> tuple[str, Outcome]:
    """Decode and decide one record: its event type (``undecodable`` if it has none) and the
    outcome, ``refused`` with the reason for a record to dead-letter."""
    source = f"{message.topic}/{message.partition}/{message.offset}"
    try:
        event = decode(message.value or b"")  # a tombstone (no value) is no record of ours
    except ContractError as error:
        log.warning("dead-lettered", agent=agent, reason=error.reason, source=source)
        return "undecodable", Outcome(refused=error.reason)
    context = {
        "trace_id": event.trace_id,
        "event_type": event.type,
        "event_id": str(event.event_id),
    }
    if order_id := getattr(event, "order_id", None):
        context["order_id"] = order_id
    with (
        record_context(**context),
        kafka_tracing.processing(agent, message.topic, message.headers, event) as span,
    ):
        try:
            outcome = await apply(event, datetime.now(UTC))
        except Exception as error:
            log.exception("record could not be applied", agent=agent)
            outcome = Outcome(refused=f"not applied: {error!r}")
        if outcome.refused is not None:
            log.warning("dead-lettered", agent=agent, reason=outcome.refused, source=source)
            tracing.failed(span, outcome.refused)
    if span is not None:
        outcome = replace(outcome, trace=span.get_span_context())
    return event.type, outcome
