import json
import os
import unicodedata
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from uuid import UUID, uuid4

import pytest
from pydantic import ValidationError

from streams.contract import (
    EVENT_TYPES,
    SCHEMA_VERSION,
    Address,
    AdjustStock,
    AnyEvent,
    ContractError,
    OrderCancelled,
    OrderPlaced,
    PaymentRetryRequested,
    ReserveStock,
    ShippingAddressChanged,
    decode,
    derive,
    encode,
)
from tests.unit.streams.conftest import ADDRESS

WHEN = datetime(2025, 3, 1, 9, 30, tzinfo=UTC)


def _placed_payload(**changes: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "type": "OrderPlaced",
        "schema_version": 1,
        "event_id": str(uuid4()),
        "occurred_at": "2025-03-01T09:30:00Z",
        "trace_id": "0af7651916cd43dd8448eb211c80319c",
        "order_id": "ord-1",
        "user_id": "usr-1",
        "lines": [{"sku": "MUG-01", "quantity": 2, "unit_price_cents": 1250}],
        "total_cents": 2500,
        "currency": "EUR",
        "shipping_address": {
            "name": "Ada",
            "line1": "1 Main St",
            "city": "Berlin",
            "postal_code": "10115",
            "country": "DE",
        },
        "payment_token": "tok_visa",
    }
    return payload | changes


def _reason(raw: bytes) -> str:
    with pytest.raises(ContractError) as caught:
        decode(raw)
    return caught.value.reason


def _json(payload: object) -> bytes:
    return json.dumps(payload).encode()


# --- codec ------------------------------------------------------------------------------


def test_every_event_type_survives_an_encode_decode_round_trip(any_event: AnyEvent) -> None:
    assert decode(encode(any_event)) == any_event


def test_encoding_is_compact_utf8_json(any_event: AnyEvent) -> None:
    raw = encode(any_event)
    compact = json.dumps(json.loads(raw), separators=(",", ":"), ensure_ascii=False)
    assert raw == compact.encode("utf-8")


def test_non_ascii_text_is_written_as_utf8_not_escaped(all_events: list[AnyEvent]) -> None:
    placed = next(event for event in all_events if isinstance(event, OrderPlaced))
    assert "Zürich".encode() in encode(placed)


def test_the_samples_cover_every_member_of_the_event_union(all_events: list[AnyEvent]) -> None:
    assert {type(event) for event in all_events} == set(EVENT_TYPES)


def test_encoded_records_name_their_type_and_schema_version(any_event: AnyEvent) -> None:
    payload = json.loads(encode(any_event))
    assert payload["type"] == type(any_event).__name__
    assert payload["schema_version"] == SCHEMA_VERSION


# --- envelope ---------------------------------------------------------------------------


def test_envelope_defaults_give_a_fresh_id_utc_time_and_trace_id() -> None:
    first = OrderCancelled(order_id="ord-1", reason="r")
    second = OrderCancelled(order_id="ord-1", reason="r")
    assert first.event_id != second.event_id
    assert first.schema_version == SCHEMA_VERSION == 1
    assert first.occurred_at.tzinfo is UTC
    assert len(first.trace_id) == 32
    assert int(first.trace_id, 16) >= 0


def test_a_naive_occurred_at_is_refused() -> None:
    with pytest.raises(ValidationError, match="timezone"):
        OrderCancelled(order_id="ord-1", reason="r", occurred_at=datetime(2025, 1, 1))


def test_an_aware_time_in_another_zone_is_stored_as_utc() -> None:
    paris = timezone(timedelta(hours=1))
    event = OrderCancelled(
        order_id="ord-1", reason="r", occurred_at=datetime(2025, 1, 1, 13, tzinfo=paris)
    )
    assert event.occurred_at == datetime(2025, 1, 1, 12, tzinfo=UTC)
    assert event.occurred_at.tzinfo is UTC


def test_records_are_immutable() -> None:
    event = OrderCancelled(order_id="ord-1", reason="r")
    with pytest.raises(ValidationError, match="frozen"):
        event.reason = "other"  # type: ignore[misc, unused-ignore]  # only the pydantic plugin sees it


def test_unknown_fields_are_refused_not_dropped() -> None:
    with pytest.raises(ValidationError, match="extra"):
        OrderCancelled.model_validate({"order_id": "ord-1", "reason": "r", "note": "x"})


def test_a_record_cannot_claim_another_type() -> None:
    with pytest.raises(ValidationError, match="type"):
        OrderCancelled.model_validate({"order_id": "ord-1", "reason": "r", "type": "OrderPlaced"})


def test_ids_with_whitespace_are_refused() -> None:
    with pytest.raises(ValidationError, match="order_id"):
        OrderCancelled(order_id="ord 1", reason="r")


# --- partition keys ---------------------------------------------------------------------


def test_stock_commands_stock_levels_and_price_changes_are_keyed_by_sku() -> None:
    by_sku = {cls.__name__ for cls in EVENT_TYPES if cls.key_field == "sku"}
    assert by_sku == {
        "ReserveStock",
        "ReleaseStock",
        "CommitStock",
        "AdjustStock",
        "StockAdjusted",
        "ProductPriceChanged",
    }


def test_every_record_exposes_the_value_of_its_key_field_as_key(any_event: AnyEvent) -> None:
    assert any_event.key == getattr(any_event, type(any_event).key_field)


def test_a_reservation_is_keyed_by_sku_and_its_answer_by_order() -> None:
    command = ReserveStock(order_id="ord-1", sku="MUG-01", quantity=1, expires_at=WHEN)
    assert command.key == "MUG-01"


# --- OrderPlaced and AdjustStock validators ---------------------------------------------


def test_an_order_whose_total_is_not_the_sum_of_its_lines_is_refused() -> None:
    reason = _reason(_json(_placed_payload(total_cents=2499)))
    assert "total_cents is 2499 but the lines sum to 2500" in reason


@pytest.mark.parametrize(
    ("changes", "field", "why"),
    [
        ({"lines": []}, "lines", "at least 1"),
        (
            {
                "lines": [
                    {"sku": "A", "quantity": 1, "unit_price_cents": 1},
                    {"sku": "A", "quantity": 1, "unit_price_cents": 1},
                ],
                "total_cents": 2,
            },
            "lines",
            "one line only",
        ),
        (
            {"lines": [{"sku": "A", "quantity": 0, "unit_price_cents": 1}], "total_cents": 0},
            "lines.0.quantity",
            "greater than 0",
        ),
        (
            {"lines": [{"sku": "A", "quantity": 1, "unit_price_cents": -1}], "total_cents": -1},
            "lines.0.unit_price_cents",
            "greater than or equal to 0",
        ),
        ({"currency": "eur"}, "currency", "pattern"),
        ({"currency": "EURO"}, "currency", "pattern"),
        ({"payment_token": ""}, "payment_token", "at least 1"),
    ],
    ids=[
        "no-lines",
        "duplicate-sku",
        "zero-quantity",
        "negative-price",
        "lowercase-currency",
        "four-letter-currency",
        "empty-token",
    ],
)
def test_an_invalid_order_is_refused_naming_the_field_and_why(
    changes: dict[str, Any], field: str, why: str
) -> None:
    reason = _reason(_json(_placed_payload(**changes)))
    assert reason.startswith("invalid OrderPlaced: ")
    assert f"{field}:" in reason
    assert why in reason


def test_an_address_needs_a_two_letter_upper_case_country() -> None:
    payload = _placed_payload()
    payload["shipping_address"]["country"] = "DEU"
    assert "shipping_address.country:" in _reason(_json(payload))


@pytest.mark.parametrize("changes", [{}, {"delta": 1, "set_to": 3}], ids=["neither", "both"])
def test_a_stock_adjustment_carries_exactly_one_of_delta_or_set_to(
    changes: dict[str, int],
) -> None:
    with pytest.raises(ValidationError, match="exactly one of delta or set_to"):
        AdjustStock.model_validate({"sku": "MUG-01", **changes})


def test_a_stocktake_cannot_set_a_negative_count() -> None:
    with pytest.raises(ValidationError, match="set_to"):
        AdjustStock(sku="MUG-01", set_to=-1)


# --- every ContractError reason ---------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"\xff\xfe{", "not UTF-8 text: invalid start byte at byte 0"),
        (b"{oops", "not JSON: Expecting property name enclosed in double quotes"),
        (b"", "not JSON: Expecting value at line 1 column 1"),
        (b"[1, 2]", "not a JSON object but an array"),
        (b'"OrderPlaced"', "not a JSON object but a string"),
        (b"42", "not a JSON object but a number"),
        (b"true", "not a JSON object but a boolean"),
        (b"null", "not a JSON object but null"),
        (b"[" * 100_000 + b"]" * 100_000, "not JSON this reader can parse: nested too deeply"),
        (b'{"schema_version": 1}', "missing field 'type'"),
        (b'{"type": "OrderShipped", "schema_version": 1}', "unknown event type 'OrderShipped'"),
        (b'{"type": 7, "schema_version": 1}', "unknown event type 7"),
        (b'{"type": "OrderCancelled"}', "missing field 'schema_version'"),
        (
            b'{"type": "OrderCancelled", "schema_version": "1"}',
            "schema_version must be an integer, got '1'",
        ),
        (
            b'{"type": "OrderCancelled", "schema_version": true}',
            "schema_version must be an integer, got True",
        ),
        (
            b'{"type": "OrderCancelled", "schema_version": 2}',
            "unsupported schema_version 2: this reader knows versions up to 1; upgrade the reader",
        ),
        (
            b'{"type": "OrderCancelled", "schema_version": 0}',
            "unsupported schema_version 0: versions start at 1",
        ),
    ],
    ids=[
        "not-utf8",
        "broken-json",
        "empty",
        "array",
        "string",
        "number",
        "boolean",
        "null",
        "too-deep",
        "no-type",
        "unknown-type",
        "type-not-a-string",
        "no-version",
        "version-as-string",
        "version-as-bool",
        "newer-version",
        "version-zero",
    ],
)
def test_decode_refuses_with_a_readable_reason(raw: bytes, reason: str) -> None:
    assert _reason(raw).startswith(reason)


def test_decode_lists_every_invalid_field_with_why() -> None:
    raw = _json(
        {
            "type": "OrderCancelled",
            "schema_version": 1,
            "occurred_at": "2025-01-01T00:00:00",
            "order_id": "ord-1",
            "colour": "red",
        }
    )
    assert _reason(raw) == (
        "invalid OrderCancelled: occurred_at: Input should have timezone info; "
        "reason: Field required; colour: Extra inputs are not permitted"
    )


def test_decode_fills_envelope_defaults_missing_from_a_payload() -> None:
    event = decode(
        b'{"type": "OrderCancelled", "schema_version": 1, "order_id": "o", "reason": "r"}'
    )
    assert isinstance(event, OrderCancelled)
    assert isinstance(event.event_id, UUID)


def test_contract_error_is_a_value_error_carrying_its_reason() -> None:
    error = ContractError("because")
    assert isinstance(error, ValueError)
    assert error.reason == str(error) == "because"


# --- derive -----------------------------------------------------------------------------


def test_a_derived_event_id_depends_only_on_its_cause_and_tag() -> None:
    cause = uuid4()
    event = OrderCancelled(order_id="ord-1", reason="r")
    trace = "0af7651916cd43dd8448eb211c80319c"
    once = derive(event, cause_id=cause, tag="0", trace_id=trace, now=WHEN)
    again = derive(event, cause_id=cause, tag="0", trace_id=trace, now=WHEN)
    other = derive(event, cause_id=cause, tag="1", trace_id=trace, now=WHEN)
    assert once == again
    assert once.event_id != other.event_id
    assert (once.trace_id, once.occurred_at, once.reason) == (trace, WHEN, "r")


def test_derive_validates_the_envelope_it_sets() -> None:
    event = OrderCancelled(order_id="ord-1", reason="r")
    with pytest.raises(ValidationError, match="timezone"):
        derive(event, cause_id=uuid4(), tag="0", trace_id=event.trace_id, now=datetime(2025, 1, 1))


def test_an_address_change_carries_an_address_validated_like_the_placed_one() -> None:
    raw = json.loads(encode(ShippingAddressChanged(order_id="ord-1", shipping_address=ADDRESS)))
    raw["shipping_address"]["country"] = "Germany"
    with pytest.raises(ContractError, match=r"shipping_address\.country"):
        decode(json.dumps(raw).encode())


# --- text: no control characters -------------------------------------------------------

# Paragraph fields (reasons, messages) may hold tabs and line breaks; every other text is one
# line. Fields whose shape is fixed by a pattern or a choice (type, currency, status...) refuse
# a control character anyway, through that pattern.
_PARAGRAPHS = frozenset({"reason", "message"})


def _string_fields(value: Any, where: tuple[int | str, ...] = ()) -> list[tuple[int | str, ...]]:
    """Where ``value`` (a JSON document) holds a string, as pydantic names locations."""
    if isinstance(value, str):
        return [where]
    if isinstance(value, dict):
        return [
            found for key, item in value.items() for found in _string_fields(item, (*where, key))
        ]
    if isinstance(value, list):
        return [
            found
            for index, item in enumerate(value)
            for found in _string_fields(item, (*where, index))
        ]
    return []


def _replaced(document: Any, where: tuple[int | str, ...], text: str) -> Any:
    if not where:
        return text
    copy = dict(document) if isinstance(document, dict) else list(document)
    copy[where[0]] = _replaced(document[where[0]], where[1:], text)  # type: ignore[index]
    return copy


@pytest.mark.parametrize("control", ["\x00", "\x07", "\x1b", "\n", "\x7f", "\x85"])
def test_every_text_field_of_every_event_refuses_control_characters_by_name(
    any_event: AnyEvent, control: str
) -> None:
    payload = json.loads(encode(any_event))
    for where in _string_fields(payload):
        if where[-1] in {"type", "event_id", "occurred_at", "expires_at"}:
            continue  # the discriminator and values that are no text
        if where[-1] in _PARAGRAPHS and control == "\n":
            continue  # paragraphs may hold line breaks (tested below)
        reason = _reason(_json(_replaced(payload, where, f"a{control}b")))
        path = ".".join(str(part) for part in where)
        assert reason.startswith(f"invalid {any_event.type}: {path}: "), (path, reason)


def test_a_control_character_in_an_event_is_named_with_its_position() -> None:
    payload = _placed_payload()
    payload["shipping_address"]["name"] = "Ada\x00Lovelace"
    assert _reason(_json(payload)) == (
        "invalid OrderPlaced: shipping_address.name: Value error, must not contain control "
        "characters or NUL (found U+0000 NUL at position 3)"
    )


def test_reasons_and_messages_may_hold_line_breaks_and_tabs_but_no_other_control() -> None:
    cancelled = OrderCancelled(order_id="ord-1", reason="wrong size\r\n\tand colour")
    assert decode(encode(cancelled)) == cancelled
    with pytest.raises(ValidationError, match="control characters"):
        OrderCancelled(order_id="ord-1", reason="wrong\x1b[2Jsize")


def test_names_addresses_and_tokens_are_one_line() -> None:
    with pytest.raises(ValidationError, match=r"U\+000A at position 3"):
        Address.model_validate(ADDRESS.model_dump() | {"line1": "12 \nRue"})
    with pytest.raises(ValidationError, match="control characters"):
        PaymentRetryRequested(order_id="ord-1", payment_token="tok_visa\t")


def test_text_that_is_no_unicode_is_refused() -> None:
    with pytest.raises(ValidationError, match="lone surrogates"):
        OrderCancelled(order_id="ord-1", reason="Ada \ud800")


def test_the_control_characters_refused_are_exactly_unicodes_category_cc() -> None:
    refused = set()
    for code in range(0x110000):
        try:
            OrderCancelled(order_id="ord-1", reason=f"a{chr(code)}b")
        except ValidationError as error:
            if "control characters" in str(error):
                refused.add(code)
    expected = {code for code in range(0x110000) if unicodedata.category(chr(code)) == "Cc"} - {
        ord("\t"),
        ord("\n"),
        ord("\r"),
    }
    assert refused == expected


def test_new_events_get_distinct_version_4_ids_and_trace_ids() -> None:
    events = [OrderCancelled(order_id="ord-1", reason="changed my mind") for _ in range(1000)]
    assert len({event.event_id for event in events}) == 1000
    assert len({event.trace_id for event in events}) == 1000
    assert {event.event_id.version for event in events} == {4}


def test_a_forked_process_draws_ids_of_its_own() -> None:
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # the child: send one id back and leave at once
        os.write(write, OrderCancelled(order_id="ord-1", reason="r").event_id.bytes)
        os._exit(0)
    os.close(write)
    os.waitpid(child, 0)
    theirs = os.read(read, 16)
    os.close(read)
    ours = {OrderCancelled(order_id="ord-1", reason="r").event_id.bytes for _ in range(100)}
    assert theirs not in ours
