from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta, timezone
from uuid import uuid4

import pytest
from pydantic import BaseModel

from streams.contract import (
    EVENT_TYPES,
    Address,
    EventBase,
    OrderLine,
    OrderPlaced,
    OrderStatus,
    OrderStatusChanged,
    PaymentFailed,
    PaymentRequested,
    PaymentRetryRequested,
    ReserveStock,
    ShippingAddressChanged,
    StockAdjusted,
)
from streams.projections.history import (
    NOT_RECORDED,
    REDACTED,
    SUMMARY_FIELDS,
    HistoryEntry,
    history_item,
    sort_key,
    timeline_key,
)

T0 = datetime(2025, 3, 1, 12, tzinfo=UTC)
RECORDED = [
    cls
    for cls in EVENT_TYPES
    if cls.key_field == "order_id" and cls.model_fields["type"].default not in NOT_RECORDED
]


def placed() -> OrderPlaced:
    return OrderPlaced(
        order_id="ord-1",
        user_id="usr-1",
        lines=(OrderLine(sku="MUG-01", quantity=2, unit_price_cents=1250),),
        total_cents=2500,
        currency="EUR",
        shipping_address=Address(
            name="Ada", line1="1 Main St", city="Berlin", postal_code="10115", country="DE"
        ),
        payment_token="tok_secret",
        occurred_at=T0,
    )


def changed(at: datetime) -> OrderStatusChanged:
    return OrderStatusChanged(
        order_id="ord-1",
        from_status=None,
        to_status=OrderStatus.PENDING,
        reason="order placed",
        occurred_at=at,
    )


def test_every_recorded_event_type_has_a_timeline_summary() -> None:
    # A new order-keyed type fails here until someone decides what its timeline entry shows
    # (or that it is a hint to leave out, in NOT_RECORDED).
    type_names = {cls.model_fields["type"].default for cls in RECORDED}
    assert type_names <= set(SUMMARY_FIELDS)


@pytest.mark.parametrize("cls", RECORDED, ids=lambda cls: cls.__name__)
def test_a_summary_names_only_fields_its_event_has(cls: type[EventBase]) -> None:
    for dotted in SUMMARY_FIELDS[cls.model_fields["type"].default]:
        model: type[BaseModel] = cls
        *path, leaf = dotted.split(".")
        for name in path:
            nested = model.model_fields[name].annotation
            assert isinstance(nested, type) and issubclass(nested, BaseModel), dotted
            model = nested
        assert leaf in model.model_fields, dotted
        assert "payment_token" not in dotted


def test_sort_keys_sort_as_text_in_time_order() -> None:
    rng = random.Random(7)  # noqa: S311 - a seeded sample, not a secret
    # Whole seconds and fractions mixed, and offsets other than UTC: all normalised.
    times = [
        (
            T0 + timedelta(seconds=rng.randrange(100), microseconds=rng.choice([0, 1, 500_000]))
        ).astimezone(timezone(timedelta(hours=rng.choice([-5, 0, 9]))))
        for _ in range(200)
    ]
    events = [changed(at) for at in times]

    by_text = sorted(events, key=sort_key)

    assert [e.occurred_at for e in by_text] == sorted(times)


def test_a_sort_key_is_fixed_width_utc_then_the_event_id() -> None:
    event = changed(T0)
    assert sort_key(event) == f"2025-03-01T12:00:00.000000Z#{event.event_id}"


def test_a_timeline_key_orders_by_time_then_a_status_change_first_then_the_id() -> None:
    ids = sorted(str(uuid4()) for _ in range(3))
    later = T0 + timedelta(microseconds=1)
    keys = [
        timeline_key(T0, "PaymentRequested", ids[0]),
        timeline_key(T0, "OrderStatusChanged", ids[2]),
        timeline_key(later, "OrderStatusChanged", ids[0]),
        timeline_key(T0, "PaymentRequested", ids[1]),
    ]

    assert sorted(keys) == [keys[1], keys[0], keys[3], keys[2]]
    assert keys[0] == f"2025-03-01T12:00:00.000000Z#1#{ids[0]}"


@pytest.mark.parametrize(
    "event",
    [
        ReserveStock(order_id="ord-1", sku="MUG-01", quantity=1, expires_at=T0),
        StockAdjusted(sku="MUG-01", on_hand=3),
    ],
    ids=lambda event: event.type,
)
def test_events_keyed_by_sku_have_no_history_item(event: EventBase) -> None:
    assert history_item(event) is None


@pytest.mark.parametrize(
    "event",
    [
        placed(),
        PaymentRetryRequested(order_id="ord-1", payment_token="tok_secret"),
        PaymentRequested(
            order_id="ord-1",
            amount_cents=2500,
            currency="EUR",
            payment_token="tok_secret",
            attempt=1,
        ),
    ],
    ids=lambda event: event.type,
)
def test_payment_tokens_never_reach_the_history(event: EventBase) -> None:
    item = history_item(event)

    assert item is not None
    assert "tok_secret" not in str(item)
    assert HistoryEntry.from_item(item).event().model_dump()["payment_token"] == REDACTED


def test_an_item_reads_back_as_the_entry_it_records() -> None:
    event = placed()
    item = history_item(event)
    assert item is not None

    entry = HistoryEntry.from_item(item)

    assert (entry.order_id, entry.event_id, entry.type, entry.occurred_at, entry.trace_id) == (
        "ord-1",
        event.event_id,
        "OrderPlaced",
        T0,
        event.trace_id,
    )
    assert entry.summary == {"user_id": "usr-1", "total_cents": 2500, "currency": "EUR"}
    assert entry.event() == event.model_copy(update={"payment_token": REDACTED})


def test_a_summary_keeps_numbers_and_flags_typed_and_leaves_out_what_is_unset() -> None:
    failed = PaymentFailed(
        order_id="ord-1", code="card_declined", message="no", retryable=True, attempt=2
    )
    failed_item, changed_item = history_item(failed), history_item(changed(T0))
    assert failed_item is not None and changed_item is not None

    assert failed_item["summary"]["M"] == {
        "code": {"S": "card_declined"},
        "retryable": {"BOOL": True},
        "attempt": {"N": "2"},
    }
    # from_status is None for a new order: absent, not stored as an empty value.
    assert HistoryEntry.from_item(changed_item).summary == {
        "to_status": "pending",
        "reason": "order placed",
    }


def test_an_address_change_shows_where_the_parcel_now_goes() -> None:
    address = Address(
        name="Ada", line1="2 New Street", city="Berlin", postal_code="10117", country="DE"
    )
    item = history_item(ShippingAddressChanged(order_id="ord-1", shipping_address=address))
    assert item is not None
    assert HistoryEntry.from_item(item).summary == {
        "shipping_address.city": "Berlin",
        "shipping_address.postal_code": "10117",
        "shipping_address.country": "DE",
    }
