"""The Kafka topics: name, key, partitions, and which records travel on each. No Faust here.

Layout rules:
    - A topic carries records of one key field only, so a key always means the same thing.
      Commands to inventory are keyed by sku (one writer per SKU); the inventory's answers to an
      order are keyed by order_id and go back to the order saga on ``inventory.events``; a
      stock adjustment has no order, so StockAdjusted has its own topic, keyed by sku.
    - A topic carries one direction: commands to a service or events from it.
    - A fact that a table's changelog already records gets no topic of its own: the order
      saga's status changes travel in the writes of its orders table
      (``streams.contract.OrderUpdate``), whose changelog the order's followers read. So
      OrderStatusChanged is the one event of the contract that no topic carries.
    - Every topic has the same partition count: the orders agent joins four topics into one
      table keyed by order_id, which Faust only allows across co-partitioned topics. The count
      is a setting; ``TopicLayout`` applies it.
    - A record a consumer cannot decode or apply goes to ``shopstream.dead-letters`` unchanged
      (same key and value), with the reason and its origin in the headers below.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Final, Literal

from streams.contract import (
    AdjustStock,
    CarrierReplied,
    CommitStock,
    EventBase,
    OrderCancelled,
    OrderPlaced,
    OrderStatusChanged,
    PaymentFailed,
    PaymentReconciliationDue,
    PaymentRefunded,
    PaymentRequested,
    PaymentRetryRequested,
    PaymentSucceeded,
    ProductPriceChanged,
    RefundFailed,
    RefundRequested,
    RefundRetryRequested,
    ReleaseStock,
    ReservationExpiryDue,
    ReserveStock,
    ShipmentDelivered,
    ShipmentDispatched,
    ShipmentReplyOverdue,
    ShipmentRequested,
    ShippingAddressChanged,
    ShippingProblem,
    StockAdjusted,
    StockRejected,
    StockReleased,
    StockReserved,
)

DEFAULT_PARTITIONS: Final = 4

DEAD_LETTER_REASON_HEADER: Final = "x-dead-letter-reason"
DEAD_LETTER_SOURCE_HEADER: Final = "x-dead-letter-source"  # "<topic>/<partition>/<offset>"
# On a dead letter sent back to its topic (``shopstream dlq redrive``): where it waited, as
# DEAD_LETTER_SOURCE_HEADER says. A consumer may treat such a record with more care than a
# first delivery: it may have been acted on before it was dead-lettered.
REDRIVEN_FROM_HEADER: Final = "x-redriven-from"


@dataclass(frozen=True, slots=True)
class TopicSpec:
    name: str
    # None only for the dead-letter topic, which keeps each failed record's own key.
    key_field: Literal["order_id", "sku"] | None
    carries: frozenset[str] = field(default_factory=frozenset)
    partitions: int = DEFAULT_PARTITIONS
    compacted: bool = False
    # Whether a record this topic's consumer refuses is sent to the dead-letter topic.
    dead_letter: bool = True

    def __post_init__(self) -> None:
        if self.partitions < 1:
            raise ValueError(f"{self.name}: partitions must be at least 1, not {self.partitions}")


def _carrying(*types: type[EventBase]) -> frozenset[str]:
    return frozenset(cls.model_fields["type"].default for cls in types)


ORDERS_EVENTS: Final = TopicSpec(
    "orders.events",
    "order_id",
    _carrying(
        OrderPlaced,
        OrderCancelled,
        PaymentRetryRequested,
        RefundRetryRequested,
        ShippingAddressChanged,
        ReservationExpiryDue,
    ),
)
INVENTORY_COMMANDS: Final = TopicSpec(
    "inventory.commands", "sku", _carrying(ReserveStock, ReleaseStock, CommitStock, AdjustStock)
)
INVENTORY_EVENTS: Final = TopicSpec(
    "inventory.events", "order_id", _carrying(StockReserved, StockRejected, StockReleased)
)
INVENTORY_ADJUSTMENTS: Final = TopicSpec("inventory.adjustments", "sku", _carrying(StockAdjusted))
PAYMENTS_COMMANDS: Final = TopicSpec(
    "payments.commands",
    "order_id",
    _carrying(PaymentRequested, RefundRequested, PaymentReconciliationDue),
)
PAYMENTS_EVENTS: Final = TopicSpec(
    "payments.events",
    "order_id",
    _carrying(PaymentSucceeded, PaymentFailed, PaymentRefunded, RefundFailed),
)
SHIPPING_COMMANDS: Final = TopicSpec(
    "shipping.commands",
    "order_id",
    _carrying(ShipmentRequested, CarrierReplied, ShipmentReplyOverdue),
)
SHIPPING_EVENTS: Final = TopicSpec(
    "shipping.events",
    "order_id",
    _carrying(ShipmentDispatched, ShippingProblem, ShipmentDelivered),
)
# The catalog's facts, keyed by sku; published by the gateway's outbox relay (api.outbox).
CATALOG_EVENTS: Final = TopicSpec("catalog.events", "sku", _carrying(ProductPriceChanged))
# Never dead-lettered itself: a failure there would loop.
DEAD_LETTERS: Final = TopicSpec("shopstream.dead-letters", None, dead_letter=False)

# The contract's events that no topic carries: they travel in a table's writes (rules above).
IN_TABLE_WRITES: Final = _carrying(OrderStatusChanged)

TOPICS: Final[tuple[TopicSpec, ...]] = (
    ORDERS_EVENTS,
    INVENTORY_COMMANDS,
    INVENTORY_EVENTS,
    INVENTORY_ADJUSTMENTS,
    PAYMENTS_COMMANDS,
    PAYMENTS_EVENTS,
    SHIPPING_COMMANDS,
    SHIPPING_EVENTS,
    CATALOG_EVENTS,
    DEAD_LETTERS,
)

# The saga's tables whose changelogs the read models and the notifications follow: the order's
# latest state and news (key order_id) and each SKU's stock (key sku), compacted. Faust names a
# table's changelog after the app (the saga's consumer group) and the table.
ORDERS_TABLE: Final = "orders"
STOCK_TABLE: Final = "stock"


def changelog_topic(app_id: str, table: str) -> str:
    """The Kafka topic of a table's changelog, as Faust names it."""
    return f"{app_id}-{table}-changelog"


def changelog_spec(name: str, partitions: int) -> TopicSpec:
    """A table changelog as a topic: compacted, keyed by the table's key, never dead-lettered
    (its followers dead-letter what they cannot read)."""
    return TopicSpec(
        name=name, key_field=None, partitions=partitions, compacted=True, dead_letter=False
    )


_ROUTES: Final[dict[str, str]] = {
    event_type: topic.name for topic in TOPICS for event_type in topic.carries
}


@dataclass(frozen=True, slots=True)
class TopicLayout:
    """The topics as deployed: the settings' partition count, and a name prefix that keeps
    apart systems sharing one cluster (a test run beside a developer's, say)."""

    partitions: int = DEFAULT_PARTITIONS
    prefix: str = ""

    def spec(self, topic: TopicSpec) -> TopicSpec:
        return replace(topic, name=self.prefix + topic.name, partitions=self.partitions)

    @property
    def topics(self) -> tuple[TopicSpec, ...]:
        return tuple(self.spec(topic) for topic in TOPICS)

    def for_event(self, event: EventBase) -> TopicSpec:
        """The deployed topic an event or command is produced to."""
        return self.spec(topic_for(event))


def topic_for(event: EventBase, topics: Iterable[TopicSpec] = TOPICS) -> TopicSpec:
    """The topic an event or command is produced to (taken from ``topics``, if given)."""
    if event.type in IN_TABLE_WRITES:
        raise LookupError(f"{event.type} travels in a table's writes, never on a topic")
    name = _ROUTES[event.type]
    for topic in topics:
        if topic.name == name:
            return topic
    raise LookupError(f"{event.type} travels on {name}, which is not among the topics given")
