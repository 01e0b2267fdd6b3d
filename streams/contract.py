"""The one event contract: every event and command that crosses Kafka, and its codec.

Envelope. Every record carries ``type`` (the discriminator), ``event_id`` (what consumers
dedupe on), ``schema_version``, ``occurred_at`` (UTC; naive datetimes are refused) and
``trace_id`` (a W3C trace-id: 32 lowercase hex digits).

Money. Integer minor units (``amount_cents``, ``total_cents``) beside a 3-letter ``currency``.

Partition key. ``record.key`` is the value of the field named by ``key_field``:
    - ``sku`` for the commands addressed to inventory (ReserveStock, ReleaseStock, AdjustStock)
      and for StockAdjusted, because a SKU's stock has exactly one writer: the inventory
      partition that owns that key; and for ProductPriceChanged, so that one product's price
      changes are read in the order they were made;
    - ``order_id`` for everything else, the inventory's answers included (they go back to the
      order saga), so that one order's events are applied in order.

Versions. A reader accepts ``1 <= schema_version <= SCHEMA_VERSION`` and refuses newer
records: deploy readers before writers. Changes that old readers cannot ignore bump
SCHEMA_VERSION, and ``decode`` then lifts older payloads to the current shape before
validating them.

Text. No text field holds a control character (Unicode's category Cc: C0, DEL and C1), NUL
included: a name, an address line, a token or an id is one line (``CleanStr``); a reason or
a message may also hold tabs and line breaks (``CleanText``). The gateways' request models use
the same two types, so what they accept the agents accept too.

Statuses. ``OrderStatus`` lives here because its values travel in OrderStatusChanged: renaming
one is a contract change. Its transition rules live in ``streams.domain.order_status``.
OrderStatusChanged travels on no topic: the order saga's table writes carry it (``OrderUpdate``,
read from the orders changelog).
"""

import json
import os
import random
import re
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Final, Literal, Self, TypeAlias, TypeVar, get_args
from uuid import UUID, uuid5

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    NonNegativeInt,
    PositiveInt,
    TypeAdapter,
    ValidationError,
    model_validator,
)

SCHEMA_VERSION: Final = 1


class ContractError(ValueError):
    """A record that breaks the contract; ``reason`` is what the dead-letter topic records."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class OrderStatus(StrEnum):
    PENDING = "pending"
    RESERVED = "reserved"
    PAID = "paid"
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    REJECTED = "rejected"
    PAYMENT_FAILED = "payment_failed"
    CANCELLED = "cancelled"
    SHIPPING_PROBLEM = "shipping_problem"
    EXPIRED = "expired"


FailureCode: TypeAlias = Literal["card_declined", "insufficient_funds", "processing_error"]


def _as_utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


def _utc_now() -> datetime:
    return datetime.now(UTC)


# Ids of new events and traces: unique, not secret (a record carries them in the clear), and
# made for every event built, including each one ``derive`` gives its id a moment later. So
# they come from a generator seeded from the OS once per process rather than from a system
# call each (``uuid4``): on a busy saga worker that call alone was 3 % of the CPU.
_ids = random.Random()  # noqa: S311 - uniqueness, not secrecy
os.register_at_fork(after_in_child=_ids.seed)  # a forked child draws its own ids


def _new_event_id() -> UUID:
    return UUID(int=_ids.getrandbits(128), version=4)


def _new_trace_id() -> str:
    return f"{_ids.getrandbits(128):032x}"


# Unicode's control characters (general category Cc) are U+0000-U+001F and U+007F-U+009F,
# and its stability policy keeps them so: a regular expression finds one in a single pass in C,
# which matters on a path that validates every record, rather than a lookup per character.
_CONTROL: Final = re.compile("[\x00-\x1f\x7f-\x9f]")
_CONTROL_BUT_LINE_BREAKS: Final = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def _storable(value: str, control: re.Pattern[str]) -> str:
    # PostgreSQL text cannot hold NUL, and a lone surrogate cannot be encoded as UTF-8: either
    # would fail deep inside a write (a crashed request, a stalled projection) rather than here,
    # where the field is named. Other control characters would be stored, sent on in events and
    # break whoever renders them later (a projection, a label printer, a terminal, a mail
    # header): refused here as well.
    if found := control.search(value):
        char = found.group()
        name = " NUL" if char == "\x00" else ""
        raise ValueError(
            "must not contain control characters or NUL "
            f"(found U+{ord(char):04X}{name} at position {found.start()})"
        )
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError("must be valid Unicode text (no lone surrogates)") from None
    return value


def _one_line(value: str) -> str:
    return _storable(value, _CONTROL)


def _paragraphs(value: str) -> str:
    return _storable(value, _CONTROL_BUT_LINE_BREAKS)


# Every free text, in events and in the gateways' requests, is one of these: a name, an address
# line, a token or an id holds no control character at all; a longer text (a description, a
# reason, a message) may hold tabs and line breaks, and nothing else of that kind.
CleanStr: TypeAlias = Annotated[str, AfterValidator(_one_line)]
CleanText: TypeAlias = Annotated[str, AfterValidator(_paragraphs)]

UtcDatetime: TypeAlias = Annotated[AwareDatetime, AfterValidator(_as_utc)]
# Ids (order, user, sku, payment, ...) are opaque, but whitespace in one is always a bug.
Id: TypeAlias = Annotated[CleanStr, Field(pattern=r"^\S+$", max_length=100)]
# One line: a name, an address line, a token, a carrier's name or tracking number.
Line: TypeAlias = Annotated[CleanStr, Field(min_length=1, max_length=1000)]
# A reason or a message: it may run over several lines.
Text: TypeAlias = Annotated[CleanText, Field(min_length=1, max_length=1000)]
Currency: TypeAlias = Annotated[str, Field(pattern=r"^[A-Z]{3}$")]
TraceId: TypeAlias = Annotated[str, Field(pattern=r"^[0-9a-f]{32}$")]


class Record(BaseModel):
    """Immutable, and strict about unknown fields: a typo must fail loudly, not vanish."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class OrderLine(Record):
    sku: Id
    quantity: PositiveInt
    unit_price_cents: NonNegativeInt

    @property
    def subtotal_cents(self) -> int:
        return self.quantity * self.unit_price_cents


class Address(Record):
    name: Line
    line1: Line
    line2: Line | None = None
    city: Line
    postal_code: Annotated[CleanStr, Field(min_length=1, max_length=20)]
    country: Annotated[str, Field(pattern=r"^[A-Z]{2}$")]


def _unique_skus(lines: tuple[OrderLine, ...]) -> tuple[OrderLine, ...]:
    skus = [line.sku for line in lines]
    if len(set(skus)) != len(skus):
        raise ValueError("each sku may appear on one line only")
    return lines


Lines: TypeAlias = Annotated[
    tuple[OrderLine, ...], Field(min_length=1), AfterValidator(_unique_skus)
]


class EventBase(Record):
    """The envelope every event and command shares."""

    key_field: ClassVar[Literal["order_id", "sku"]]

    type: str
    event_id: UUID = Field(default_factory=_new_event_id)
    # Strict: "1" or true is not a version, in JSON or in Python.
    schema_version: Annotated[int, Field(ge=1, le=SCHEMA_VERSION, strict=True)] = SCHEMA_VERSION
    occurred_at: UtcDatetime = Field(default_factory=_utc_now)
    trace_id: TraceId = Field(default_factory=_new_trace_id)

    @property
    def key(self) -> str:
        """The Kafka key this record is partitioned by (see the module docstring)."""
        return str(getattr(self, self.key_field))


class _ByOrder(EventBase):
    key_field: ClassVar[Literal["order_id", "sku"]] = "order_id"
    order_id: Id


class _BySku(EventBase):
    key_field: ClassVar[Literal["order_id", "sku"]] = "sku"
    sku: Id


# --- orders -----------------------------------------------------------------------------


class OrderPlaced(_ByOrder):
    type: Literal["OrderPlaced"] = "OrderPlaced"
    user_id: Id
    lines: Lines
    total_cents: NonNegativeInt
    currency: Currency
    shipping_address: Address
    payment_token: Line

    @model_validator(mode="after")
    def _total_is_sum_of_lines(self) -> Self:
        expected = sum(line.subtotal_cents for line in self.lines)
        if self.total_cents != expected:
            raise ValueError(f"total_cents is {self.total_cents} but the lines sum to {expected}")
        return self


class OrderCancelled(_ByOrder):
    type: Literal["OrderCancelled"] = "OrderCancelled"
    reason: Text


class PaymentRetryRequested(_ByOrder):
    type: Literal["PaymentRetryRequested"] = "PaymentRetryRequested"
    payment_token: Line


class RefundRetryRequested(_ByOrder):
    """An operator asks the saga to request the order's failed refunds again."""

    type: Literal["RefundRetryRequested"] = "RefundRetryRequested"
    reason: Text


class ShippingAddressChanged(_ByOrder):
    """The customer's new shipping address. A request like OrderCancelled: the saga takes it
    only until a shipment is requested (``streams.domain.order_status.address_change_refusal``)."""

    type: Literal["ShippingAddressChanged"] = "ShippingAddressChanged"
    shipping_address: Address


class ReservationExpiryDue(_ByOrder):
    """A timer saw the order's reservation deadline pass; the saga decides whether it expires."""

    type: Literal["ReservationExpiryDue"] = "ReservationExpiryDue"


class OrderStatusChanged(_ByOrder):
    type: Literal["OrderStatusChanged"] = "OrderStatusChanged"
    from_status: OrderStatus | None  # None: the order was just created
    to_status: OrderStatus
    reason: Text


# --- inventory --------------------------------------------------------------------------


class ReserveStock(_BySku):
    type: Literal["ReserveStock"] = "ReserveStock"
    order_id: Id
    quantity: PositiveInt
    expires_at: UtcDatetime


class StockReserved(_ByOrder):
    type: Literal["StockReserved"] = "StockReserved"
    sku: Id
    quantity: PositiveInt
    expires_at: UtcDatetime


class StockRejected(_ByOrder):
    type: Literal["StockRejected"] = "StockRejected"
    sku: Id
    requested: PositiveInt
    available: NonNegativeInt


class ReleaseStock(_BySku):
    type: Literal["ReleaseStock"] = "ReleaseStock"
    order_id: Id
    quantity: PositiveInt  # what the order believes it holds; inventory frees what it holds
    reason: Text


class StockReleased(_ByOrder):
    type: Literal["StockReleased"] = "StockReleased"
    sku: Id
    quantity: NonNegativeInt  # 0: nothing was held, the release was a no-op


class CommitStock(_BySku):
    """The order's held units leave the shelf: sent when its parcel is dispatched."""

    type: Literal["CommitStock"] = "CommitStock"
    order_id: Id


class AdjustStock(_BySku):
    type: Literal["AdjustStock"] = "AdjustStock"
    delta: int | None = None
    set_to: NonNegativeInt | None = None

    @model_validator(mode="after")
    def _exactly_one_change(self) -> Self:
        if (self.delta is None) == (self.set_to is None):
            raise ValueError("give exactly one of delta or set_to")
        return self


class StockAdjusted(_BySku):
    type: Literal["StockAdjusted"] = "StockAdjusted"
    on_hand: NonNegativeInt


# --- payments ---------------------------------------------------------------------------


class PaymentRequested(_ByOrder):
    type: Literal["PaymentRequested"] = "PaymentRequested"
    amount_cents: NonNegativeInt
    currency: Currency
    payment_token: Line
    attempt: PositiveInt


class PaymentSucceeded(_ByOrder):
    type: Literal["PaymentSucceeded"] = "PaymentSucceeded"
    payment_id: Id
    amount_cents: NonNegativeInt
    currency: Currency
    attempt: PositiveInt


class PaymentFailed(_ByOrder):
    type: Literal["PaymentFailed"] = "PaymentFailed"
    code: FailureCode
    message: Text
    retryable: bool
    attempt: PositiveInt


class RefundRequested(_ByOrder):
    """Give back ``amount_cents`` of a payment. ``attempt`` counts the saga's requests for
    this payment's refund: a retry after the provider refused asks again under a new attempt
    (a new idempotency key), one after no answer under the same (``RefundFailed.code``)."""

    type: Literal["RefundRequested"] = "RefundRequested"
    payment_id: Id
    amount_cents: PositiveInt
    currency: Currency
    reason: Text
    attempt: PositiveInt = 1


class PaymentRefunded(_ByOrder):
    type: Literal["PaymentRefunded"] = "PaymentRefunded"
    refund_id: Id
    payment_id: Id
    amount_cents: PositiveInt
    currency: Currency


# refused: the provider said no (nothing was refunded); unavailable: no answer came, so whether
# the refund was made is unknown, and asking again under the same key finds out.
RefundFailureCode: TypeAlias = Literal["refused", "unavailable"]


class RefundFailed(_ByOrder):
    """The refund of one request (its payment and attempt) was not made, or not confirmed:
    the money may still be with us. ``retryable``: asking again as it was asked may succeed."""

    type: Literal["RefundFailed"] = "RefundFailed"
    payment_id: Id
    amount_cents: PositiveInt
    currency: Currency
    attempt: PositiveInt
    code: RefundFailureCode
    reason: Text
    retryable: bool


class PaymentReconciliationDue(_ByOrder):
    """A timer saw a charge or refund whose outcome is unknown come due for another look; the
    payments agent decides whether to ask the provider (``idempotency_key``: its row)."""

    type: Literal["PaymentReconciliationDue"] = "PaymentReconciliationDue"
    idempotency_key: Line


# --- shipping ---------------------------------------------------------------------------


class ShipmentRequested(_ByOrder):
    type: Literal["ShipmentRequested"] = "ShipmentRequested"
    address: Address
    lines: Lines
    attempt: PositiveInt = 1


class ShipmentDispatched(_ByOrder):
    type: Literal["ShipmentDispatched"] = "ShipmentDispatched"
    carrier: Line
    tracking_number: Line


class ShippingProblem(_ByOrder):
    type: Literal["ShippingProblem"] = "ShippingProblem"
    reason: Text
    attempt: PositiveInt


class ShipmentDelivered(_ByOrder):
    type: Literal["ShipmentDelivered"] = "ShipmentDelivered"


CarrierOutcome: TypeAlias = Literal["dispatched", "problem", "delivered"]


class CarrierReplied(_ByOrder):
    """What the carrier answered over the AMQP link about one shipment attempt, handed to the
    shipping agent (which owns the order's shipment rows) to report as the events above."""

    type: Literal["CarrierReplied"] = "CarrierReplied"
    attempt: PositiveInt
    outcome: CarrierOutcome
    carrier: Line
    tracking_number: Line | None = None
    reason: Text | None = None


class ShipmentReplyOverdue(_ByOrder):
    """A timer saw a shipment request go unanswered too long; the shipping agent decides
    whether to ask the carrier again."""

    type: Literal["ShipmentReplyOverdue"] = "ShipmentReplyOverdue"
    attempt: PositiveInt


# --- catalog ----------------------------------------------------------------------------


class ProductPriceChanged(_BySku):
    """A product's catalog price changed. Orders already placed keep the price they were placed
    at; this tells whoever keeps prices of their own (search, a price history, alerts)."""

    type: Literal["ProductPriceChanged"] = "ProductPriceChanged"
    old_price_cents: NonNegativeInt
    old_currency: Currency
    price_cents: NonNegativeInt
    currency: Currency


# --- the union and its codec ------------------------------------------------------------

AnyEvent: TypeAlias = (
    OrderPlaced
    | OrderCancelled
    | PaymentRetryRequested
    | RefundRetryRequested
    | ShippingAddressChanged
    | ReservationExpiryDue
    | OrderStatusChanged
    | ReserveStock
    | StockReserved
    | StockRejected
    | ReleaseStock
    | StockReleased
    | CommitStock
    | AdjustStock
    | StockAdjusted
    | PaymentRequested
    | PaymentSucceeded
    | PaymentFailed
    | RefundRequested
    | PaymentRefunded
    | RefundFailed
    | PaymentReconciliationDue
    | ShipmentRequested
    | ShipmentDispatched
    | ShippingProblem
    | ShipmentDelivered
    | CarrierReplied
    | ShipmentReplyOverdue
    | ProductPriceChanged
)
Event: TypeAlias = Annotated[AnyEvent, Field(discriminator="type")]

EVENT_TYPES: Final[tuple[type[AnyEvent], ...]] = get_args(AnyEvent)
_EVENTS: Final = TypeAdapter[AnyEvent](Event)
_UTC_DATETIME: Final = TypeAdapter[datetime](UtcDatetime)
_BY_TYPE: Final[dict[str, type[AnyEvent]]] = {
    cls.model_fields["type"].default: cls for cls in EVENT_TYPES
}

E = TypeVar("E", bound=EventBase)


def encode(event: EventBase) -> bytes:
    """Compact UTF-8 JSON."""
    return event.model_dump_json().encode()


def decode(raw: bytes) -> AnyEvent:
    """Parse and validate one record; anything off the contract raises ContractError."""
    try:
        # One pass over the bytes for a record that keeps the contract, the common case.
        return _EVENTS.validate_json(raw)
    except ValidationError:
        return _decode_explaining(raw)


def _decode_explaining(raw: bytes) -> AnyEvent:
    """``decode`` step by step, to say exactly what is wrong with a record."""
    try:
        payload = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ContractError(f"not UTF-8 text: {exc.reason} at byte {exc.start}") from exc
    except json.JSONDecodeError as exc:
        raise ContractError(f"not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from exc
    except RecursionError as exc:
        raise ContractError("not JSON this reader can parse: nested too deeply") from exc
    if not isinstance(payload, dict):
        raise ContractError(f"not a JSON object but {_json_kind(payload)}")
    cls = _event_class(payload)
    _check_version(payload)
    try:
        return cls.model_validate(payload)
    except ValidationError as exc:
        raise ContractError(f"invalid {cls.__name__}: {_describe(exc)}") from exc


# --- the orders changelog ---------------------------------------------------------------

# What an order's followers hear of: the saga's status changes, and the refunds it applied.
OrderNews: TypeAlias = Annotated[OrderStatusChanged | PaymentRefunded, Field(discriminator="type")]


class OrderUpdate(BaseModel):
    """One record of the orders changelog as the order's followers read it.

    The saga stores each order's row in a table whose changelog is a topic like any other: one
    record per stored write, keyed by order_id, in the order the writes were made. Beside the
    row's fields (the saga's ``OrderState``; a follower reads only those below and ignores the
    rest) a write carries ``news``: the status changes and refunds decided since the row was
    last stored, oldest first. That is how status changes travel: there is no topic that
    repeats them, so they cost no record of their own, and a follower (the notifications,
    the order history, the browsers' live stream) gets them with the order as it stands after
    them. A write is replayed with the same news (same event ids) after a crash: followers
    dedupe by event id, as on any topic.
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    order_id: Id
    user_id: Id
    status: OrderStatus
    news: tuple[OrderNews, ...] = ()

    @property
    def status_changes(self) -> tuple[OrderStatusChanged, ...]:
        return tuple(item for item in self.news if isinstance(item, OrderStatusChanged))


def decode_order_update(raw: bytes) -> OrderUpdate:
    """One orders-changelog record; ContractError if it is not an order's row."""
    try:
        return OrderUpdate.model_validate_json(raw)
    except ValidationError as exc:
        raise ContractError(f"not an order update: {_describe(exc)}") from exc


def derive(event: E, *, cause_id: UUID, tag: str, trace_id: str, now: datetime) -> E:
    """Give ``event`` the envelope of a consequence of the record ``cause_id``.

    The id is a function of the cause and ``tag``, so a cause processed twice (say after a crash
    before the consumer committed) yields the same ids and downstream dedupe catches them.
    """
    # A copy, not a whole validation: the event is valid, and so is the rest of the envelope
    # (a UUID, and the trace id of a record that was validated).
    envelope = {
        "event_id": uuid5(cause_id, tag),
        "occurred_at": _UTC_DATETIME.validate_python(now),
        "trace_id": trace_id,
    }
    return event.model_copy(update=envelope)


def _event_class(payload: dict[str, Any]) -> type[AnyEvent]:
    if "type" not in payload:
        raise ContractError("missing field 'type'")
    name = payload["type"]
    if not isinstance(name, str) or name not in _BY_TYPE:
        raise ContractError(f"unknown event type {name!r}")
    return _BY_TYPE[name]


def _check_version(payload: dict[str, Any]) -> None:
    if "schema_version" not in payload:
        raise ContractError("missing field 'schema_version'")
    version = payload["schema_version"]
    if type(version) is not int:  # bool is an int subclass, and "1" is not a version
        raise ContractError(f"schema_version must be an integer, got {version!r}")
    if version > SCHEMA_VERSION:
        raise ContractError(
            f"unsupported schema_version {version}: this reader knows versions up to "
            f"{SCHEMA_VERSION}; upgrade the reader"
        )
    if version < 1:
        raise ContractError(f"unsupported schema_version {version}: versions start at 1")


def _json_kind(value: object) -> str:
    match value:
        case list():
            return "an array"
        case str():
            return "a string"
        case bool():
            return "a boolean"
        case int() | float():
            return "a number"
        case _:
            return "null"


def _describe(error: ValidationError) -> str:
    problems = []
    for item in error.errors(include_url=False):
        where = ".".join(str(part) for part in item["loc"])
        problems.append(f"{where}: {item['msg']}" if where else item["msg"])
    return "; ".join(problems)


# --- customer notifications (published on SNS, not Kafka) -------------------------------
# One record per notification and channel, the SNS message body the delivery workers read.
# Not an EventBase: it never travels on Kafka and is keyed by nothing but its own id. It is
# versioned like the events: a reader refuses a newer NOTIFICATION_SCHEMA_VERSION.

NOTIFICATION_SCHEMA_VERSION: Final = 1


class Channel(StrEnum):
    EMAIL = "email"
    SMS = "sms"
    PUSH = "push"


class NotificationKind(StrEnum):
    ORDER_CONFIRMED = "order_confirmed"
    PAYMENT_FAILED = "payment_failed"
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"
    REFUNDED = "refunded"
    SHIPPING_PROBLEM = "shipping_problem"
    REJECTED = "rejected"
    EXPIRED = "expired"


class CustomerNotification(Record):
    # uuid5(event_id, channel): one notification per event per channel, what delivery dedupes on.
    notification_id: UUID
    event_id: UUID  # the order event this notification tells of
    schema_version: Annotated[int, Field(ge=1, le=NOTIFICATION_SCHEMA_VERSION)] = (
        NOTIFICATION_SCHEMA_VERSION
    )
    occurred_at: UtcDatetime
    trace_id: TraceId
    kind: NotificationKind
    channel: Channel
    order_id: Id
    user_id: Id
    recipient_name: Line
    # Where it goes: an e-mail address, an E.164 phone number, or (push) the user's id.
    address: Annotated[CleanStr, Field(min_length=1, max_length=254)]
    status: OrderStatus
    subject: Line  # a mail header: a line break there would start another header
    text: Text
    link: Line
    lines: tuple[OrderLine, ...] = ()
    total_cents: NonNegativeInt | None = None
    currency: Currency | None = None
    tracking_number: Line | None = None
    refunded_cents: NonNegativeInt | None = None


def encode_notification(notification: CustomerNotification) -> str:
    """The SNS message body (SNS carries text, not bytes)."""
    return notification.model_dump_json()


def decode_notification(body: str) -> CustomerNotification:
    """Parse one SNS/SQS message body; anything off the contract raises ContractError."""
    try:
        payload = json.loads(body)
    except json.JSONDecodeError as exc:
        raise ContractError(f"not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from exc
    if not isinstance(payload, dict):
        raise ContractError(f"not a JSON object but {_json_kind(payload)}")
    version = payload.get("schema_version")
    if type(version) is int and version > NOTIFICATION_SCHEMA_VERSION:
        raise ContractError(
            f"unsupported notification schema_version {version}: this reader knows versions "
            f"up to {NOTIFICATION_SCHEMA_VERSION}; upgrade the reader"
        )
    try:
        return CustomerNotification.model_validate(payload)
    except ValidationError as exc:
        raise ContractError(f"invalid CustomerNotification: {_describe(exc)}") from exc
