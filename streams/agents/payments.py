"""The payments agent: charges and refunds through the payment function, at most once each.

Every answer is kept in a table under the request's idempotency key (order and attempt for a
charge, order and payment for a refund): a redelivered request is answered from there, and a
crash between the charge and that row repeats the call with the same key, which the provider
answers with the same payment. When the function cannot be reached, the outcome is unknown:
the agent keeps asking with the same key (never reporting a failure it does not know of),
and after ``payment_unavailable_give_up_s`` dead-letters the request for an operator.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime

import faust
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_delay, wait_exponential

from streams.adapters.payment_invoker import (
    PaymentUnavailable,
    charge_event,
    payment_invoker,
    refund_event,
)
from streams.adapters.payment_messages import Failed
from streams.agents.processing import Outcome, StagedTable, applied
from streams.app import app, channels, settings, table
from streams.contract import AnyEvent, EventBase, PaymentRequested, RefundRequested, decode, encode
from streams.domain.payments import idempotency_key, refund_idempotency_key
from streams.topics import PAYMENTS_COMMANDS

invoker = payment_invoker(settings)
payments_table = table("payments")
answers: StagedTable[EventBase] = StagedTable(payments_table, decode, encode)


async def _answer(
    event: PaymentRequested | RefundRequested, key: str, now: datetime
) -> EventBase | str:
    """The event answering the request, or why it cannot be answered."""
    async for attempt in AsyncRetrying(
        retry=retry_if_exception_type(PaymentUnavailable),
        wait=wait_exponential(multiplier=0.5, max=30),
        stop=stop_after_delay(settings.payment_unavailable_give_up_s),
        reraise=True,
    ):
        with attempt:
            if isinstance(event, PaymentRequested):
                return charge_event(event, await invoker.charge(event, key), now)
            result = await invoker.refund(event, key)
            if isinstance(result, Failed):
                return f"refund refused by the provider: {result.code}: {result.message}"
            return refund_event(event, result, now)
    raise AssertionError("unreachable: the retry loop returns or raises")


async def apply(event: AnyEvent, now: datetime) -> Outcome:
    match event:
        case PaymentRequested():
            key = idempotency_key(event.order_id, event.attempt)
        case RefundRequested():
            key = refund_idempotency_key(event.order_id, event.payment_id)
        case _:
            return Outcome(refused=f"the payments agent does not consume {event.type}")
    if (answered := answers.get(key.encode())) is not None:
        return Outcome(events=[answered], duplicate=True)
    answer = await _answer(event, key, now)
    if isinstance(answer, str):
        return Outcome(refused=answer)
    answers.stage(key.encode(), answer)
    return Outcome(events=[answer])


@app.agent(channels.source(PAYMENTS_COMMANDS), name="payments")
async def payments_agent(stream: faust.StreamT[bytes]) -> AsyncIterator[str]:
    # Charges of different orders are asked for at once: each waits on the payment function.
    async for result in applied("payments", stream, channels, apply, [answers], keys_at_once=True):
        yield result
