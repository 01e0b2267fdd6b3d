"""The payments agent: charges and refunds through the payment function, at most once each.

Every answer is kept in a table under the request's idempotency key (order and attempt for a
charge; order, payment and attempt for a refund): a redelivered request is answered from
there, and a crash between the charge and that row repeats the call with the same key, which
the provider answers with the same payment.

Outcomes nobody heard. When the payment function gives no answer after the invoker's attempts,
whether the provider acted is unknown. The agent tells nobody anything yet (never a failure it
does not know of): it keeps the request in a second table, ``Unsettled`` by key, and goes on
with the next record. A timer hints at the rows due for another look
(``PaymentReconciliationDue``, with a backoff: ``streams.domain.payments``), and the agent
then, for
    - a charge: asks the provider what became of the key, and never charges to find out. The
      charge found is answered as it would have been (PaymentSucceeded or PaymentFailed); a
      charge the provider still knows nothing of once ``payment_reconcile_settle_s`` have
      passed since it was asked for was never made: PaymentFailed (``processing_error``,
      retryable), and the customer may pay again under a new attempt;
    - a refund: asks again under the same key, which the provider answers with the refund it
      made, if it made one. After ``payment_unavailable_give_up_s`` without an answer, a
      RefundFailed (``unavailable``) tells the order, for an operator to retry.
The order may have expired or been cancelled in the meantime: the saga refunds a payment it no
longer wants.

A PaymentRequested whose key has an unsettled row, or that comes back from the dead-letter
topic (``REDRIVEN_FROM_HEADER``), may have been charged already, maybe longer ago than the
provider remembers its keys: the provider is asked what became of it first, and only a charge
it does not know of is made, under the same key. A refund the provider refuses is answered
RefundFailed (``refused``) and kept like any answer; retrying it takes a new attempt.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import faust

from shopstream.logs import get_logger
from streams.adapters.payment_invoker import (
    PaymentInvokeError,
    PaymentRequestInvalid,
    PaymentUnavailable,
    charge_event,
    payment_invoker,
    refund_event,
    refund_failed_event,
)
from streams.adapters.payment_messages import Failed, NotFound
from streams.agents.processing import Outcome, StagedTable, applied
from streams.app import app, channels, settings, table
from streams.contract import (
    AnyEvent,
    EventBase,
    PaymentReconciliationDue,
    PaymentRequested,
    RefundRequested,
    decode,
    encode,
)
from streams.domain.payments import (
    NEVER_CHARGED_CODE,
    NEVER_CHARGED_MESSAGE,
    ReconciliationPolicy,
    Unsettled,
    idempotency_key,
    refund_idempotency_key,
)
from streams.topics import PAYMENTS_COMMANDS, REDRIVEN_FROM_HEADER

log = get_logger(__name__)

invoker = payment_invoker(settings)
policy = ReconciliationPolicy(
    first_look_s=settings.payment_reconcile_interval_s,
    max_wait_s=settings.payment_reconcile_max_wait_s,
    settle_s=settings.payment_reconcile_settle_s,
    refund_give_up_s=settings.payment_unavailable_give_up_s,
)
payments_table = table("payments")
answers: StagedTable[EventBase] = StagedTable(payments_table, decode, encode)
unsettled_table = table("payments-unsettled")
unsettled = StagedTable.of_model(unsettled_table, Unsettled)


async def apply(event: AnyEvent, now: datetime) -> Outcome:
    match event:
        case PaymentRequested():
            return await _charge(event, now)
        case RefundRequested():
            key = refund_idempotency_key(event.order_id, event.payment_id, event.attempt)
            if (answered := answers.get(key.encode())) is not None:
                return Outcome(events=[answered], duplicate=True)
            return await _refund(event, key, _open(key), now)
        case PaymentReconciliationDue():
            return await _reconcile(event, now)
        case _:
            return Outcome(refused=f"the payments agent does not consume {event.type}")


async def _charge(request: PaymentRequested, now: datetime) -> Outcome:
    key = idempotency_key(request.order_id, request.attempt)
    if (answered := answers.get(key.encode())) is not None:
        return Outcome(events=[answered], duplicate=True)
    row = _open(key)
    if row is not None or _redriven():
        # It may have been charged already: ask what became of it before charging.
        try:
            found = await invoker.lookup(request, key)
        except PaymentInvokeError as error:
            return _unknown(row or Unsettled.of(request, key, now, repr(error), policy), now, error)
        if not isinstance(found, NotFound):
            return _answered(key, charge_event(request, found, now), row, now)
        # Not there: never made, so making it now cannot make it twice.
    try:
        result = await invoker.charge(request, key)
    except PaymentUnavailable as error:
        trouble = repr(error)
        asked = (
            row.looked(now, trouble, policy, asked=True)
            if row is not None
            else Unsettled.of(request, key, now, trouble, policy)
        )
        return _unknown(asked, now, error)
    return _answered(key, charge_event(request, result, now), row, now)


async def _refund(
    request: RefundRequested, key: str, row: Unsettled | None, now: datetime
) -> Outcome:
    try:
        result = await invoker.refund(request, key)
    except PaymentRequestInvalid as refusal:
        failed = refund_failed_event(request, "refused", str(refusal), retryable=False, now=now)
        return _answered(key, failed, row, now)
    except PaymentInvokeError as error:
        # Unavailable, or an answer outside the contract: whether it was refunded is unknown.
        if row is not None and row.refund_given_up(now, policy):
            reason = (
                f"the payment provider has not answered since {row.since:%Y-%m-%d %H:%M:%S} UTC "
                f"({error}); whether the refund was made is unknown, and asking again under "
                "the same key finds out"
            )
            failed = refund_failed_event(request, "unavailable", reason, retryable=True, now=now)
            # Not kept as the key's answer: a retry asks the provider again under this key.
            settled = row.settled(now)
            unsettled.stage(key.encode(), settled)
            return Outcome(events=[failed], stored=lambda: _track(settled))
        asked = (
            row.looked(now, repr(error), policy, asked=True)
            if row is not None
            else Unsettled.of(request, key, now, repr(error), policy)
        )
        return _unknown(asked, now, error)
    if isinstance(result, Failed):
        reason = f"{result.code}: {result.message}"
        answer: EventBase = refund_failed_event(
            request, "refused", reason, retryable=result.retryable, now=now
        )
    else:
        answer = refund_event(request, result, now)
    return _answered(key, answer, row, now)


async def _reconcile(hint: PaymentReconciliationDue, now: datetime) -> Outcome:
    key = hint.idempotency_key
    row = _open(key)
    if row is None or not row.is_due(now):
        return Outcome(duplicate=True)  # settled, or looked at since the timer saw it due
    if isinstance(row.request, RefundRequested):
        return await _refund(row.request, key, row, now)
    request = row.request
    try:
        found = await invoker.lookup(request, key)
    except PaymentInvokeError as error:
        return _unknown(row.looked(now, repr(error), policy), now, error)
    if isinstance(found, NotFound):
        if not row.never_charged(now, policy):
            trouble = "the provider knows of no charge yet"
            return _unknown(row.looked(now, trouble, policy), now, trouble)
        log.warning("charge never made: reported failed", idempotency_key=key, since=str(row.since))
        found = Failed(code=NEVER_CHARGED_CODE, message=NEVER_CHARGED_MESSAGE, retryable=True)
    return _answered(key, charge_event(request, found, now), row, now)


def _answered(key: str, answer: EventBase, row: Unsettled | None, now: datetime) -> Outcome:
    """The request's answer, kept under its key; its unsettled row, if any, settled."""
    answers.stage(key.encode(), answer)
    if row is None:
        return Outcome(events=[answer])
    settled = row.settled(now)
    unsettled.stage(key.encode(), settled)
    log.info("payment outcome settled", idempotency_key=key, answer=answer.type)
    return Outcome(events=[answer], stored=lambda: _track(settled))


def _unknown(row: Unsettled, now: datetime, trouble: object) -> Outcome:
    """Nothing to tell yet: the row is kept, and looked at again when it is due."""
    unsettled.stage(row.idempotency_key.encode(), row)
    log.warning(
        "payment outcome unknown; looking again later",
        idempotency_key=row.idempotency_key,
        since=str(row.since),
        next_look_at=str(row.next_look_at),
        trouble=str(trouble),
    )
    return Outcome(stored=lambda: _track(row))


def _open(key: str) -> Unsettled | None:
    """The key's unsettled row, unless its outcome is known by now."""
    row = unsettled.get(key.encode())
    return row if row is not None and row.settled_at is None else None


def _redriven() -> bool:
    """Whether the record being applied was sent back from the dead-letter topic."""
    record = faust.current_event()
    headers: Mapping[str, bytes] | Iterable[tuple[str, bytes]] = (
        (record.headers or ()) if record is not None else ()
    )
    names = headers.keys() if isinstance(headers, Mapping) else (name for name, _ in headers)
    return REDRIVEN_FROM_HEADER in names


@app.agent(channels.source(PAYMENTS_COMMANDS), name="payments")
async def payments_agent(stream: faust.StreamT[bytes]) -> AsyncIterator[str]:
    # Charges of different orders are asked for at once: each waits on the payment function.
    tables: list[StagedTable[Any]] = [answers, unsettled]
    async for result in applied("payments", stream, channels, apply, tables, keys_at_once=True):
        yield result


# Unsettled rows' next looks (key -> (when, order_id, trace_id)), kept as rows are stored, so
# the timer does not decode the table on each tick. The table is scanned again now and then:
# rows recovered from a changelog after a rebalance never went through ``_track``.
_due: dict[str, tuple[datetime, str, str]] = {}
# key -> when it was last hinted, until its row is stored again: one hint in flight per row.
_hinted: dict[str, float] = {}
_RESCAN_EVERY = 60  # ticks
_ticks = 0


def _track(row: Unsettled) -> None:
    key = row.idempotency_key
    _hinted.pop(key, None)
    if row.settled_at is None:
        _due[key] = (row.next_look_at, row.request.order_id, row.request.trace_id)
    else:
        _due.pop(key, None)


def due_hints(now: datetime) -> list[PaymentReconciliationDue]:
    """A hint for each unsettled row due at ``now`` that has none in flight (remembered as
    hinted until its row is stored again)."""
    hints = []
    for key, (next_look_at, order_id, trace_id) in _due.items():
        last = _hinted.get(key)
        # A hint not answered within a few ticks was lost (a rebalance, a crash): hint again.
        stale = last is None or time.monotonic() - last > settings.payment_reconcile_interval_s * 4
        if next_look_at <= now and stale:
            _hinted[key] = time.monotonic()
            hints.append(
                PaymentReconciliationDue(order_id=order_id, idempotency_key=key, trace_id=trace_id)
            )
    return hints


def rescan() -> None:
    """Track every row of this worker's partitions of the unsettled table."""
    for raw in unsettled_table.values():
        _track(Unsettled.model_validate_json(raw))


@app.timer(interval=settings.payment_reconcile_interval_s)  # type: ignore[untyped-decorator]
async def hint_unsettled_payments() -> None:
    global _ticks
    if _ticks % _RESCAN_EVERY == 0:
        rescan()
    _ticks += 1
    await channels.publish(due_hints(datetime.now(UTC)))
