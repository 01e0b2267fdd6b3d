from collections import Counter
from datetime import UTC, datetime

import pytest

from streams.contract import (
    EVENT_TYPES,
    AnyEvent,
    OrderStatus,
    OrderStatusChanged,
    ReserveStock,
    StockReserved,
)
from streams.topics import (
    DEAD_LETTERS,
    DEFAULT_PARTITIONS,
    IN_TABLE_WRITES,
    ORDERS_EVENTS,
    TOPICS,
    TopicLayout,
    TopicSpec,
    topic_for,
)

WHEN = datetime(2025, 3, 1, tzinfo=UTC)


def test_every_event_type_travels_on_exactly_one_topic_or_in_table_writes() -> None:
    carried = Counter(event_type for topic in TOPICS for event_type in topic.carries)
    assert set(carried) | IN_TABLE_WRITES == {cls.__name__ for cls in EVENT_TYPES}
    assert not set(carried) & IN_TABLE_WRITES
    assert set(carried.values()) == {1}


def test_an_event_is_routed_to_a_topic_keyed_by_its_own_key_field(
    any_published_event: AnyEvent,
) -> None:
    topic = topic_for(any_published_event)
    assert any_published_event.type in topic.carries
    assert topic.key_field == type(any_published_event).key_field


def test_topic_names_are_unique() -> None:
    names = [topic.name for topic in TOPICS]
    assert len(names) == len(set(names))


def test_reservations_go_to_inventory_by_sku_and_answers_come_back_by_order() -> None:
    command = ReserveStock(order_id="ord-1", sku="MUG-01", quantity=1, expires_at=WHEN)
    answer = StockReserved(order_id="ord-1", sku="MUG-01", quantity=1, expires_at=WHEN)
    assert (topic_for(command).name, topic_for(command).key_field) == ("inventory.commands", "sku")
    assert (topic_for(answer).name, topic_for(answer).key_field) == ("inventory.events", "order_id")


def test_status_changes_travel_in_the_orders_table_writes_not_on_a_topic() -> None:
    changed = OrderStatusChanged(
        order_id="o", from_status=None, to_status=OrderStatus.PENDING, reason="r"
    )
    with pytest.raises(LookupError, match="travels in a table's writes"):
        topic_for(changed)


def test_the_dead_letter_topic_carries_no_contract_event_and_is_never_dead_lettered() -> None:
    assert DEAD_LETTERS.name == "shopstream.dead-letters"
    assert DEAD_LETTERS.carries == frozenset()
    assert DEAD_LETTERS.key_field is None
    assert DEAD_LETTERS.dead_letter is False
    assert all(topic.dead_letter for topic in TOPICS if topic is not DEAD_LETTERS)


def test_every_topic_has_the_default_partition_count_of_four() -> None:
    assert DEFAULT_PARTITIONS == 4
    assert {topic.partitions for topic in TOPICS} == {4}


def test_the_partition_setting_applies_to_every_topic_alike() -> None:
    topics = TopicLayout(partitions=12).topics
    assert [topic.name for topic in topics] == [topic.name for topic in TOPICS]
    assert {topic.partitions for topic in topics} == {12}


def test_routing_against_configured_topics_returns_the_configured_spec(
    any_published_event: AnyEvent,
) -> None:
    assert TopicLayout(partitions=8).for_event(any_published_event).partitions == 8


def test_routing_to_a_topic_missing_from_the_given_set_says_so() -> None:
    answer = StockReserved(order_id="o", sku="MUG-01", quantity=1, expires_at=WHEN)
    with pytest.raises(LookupError, match=r"StockReserved travels on inventory\.events"):
        topic_for(answer, [ORDERS_EVENTS])


def test_a_topic_needs_at_least_one_partition() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        TopicSpec("t", "order_id", partitions=0)


def test_no_contract_topic_is_compacted_because_events_are_history() -> None:
    # The latest states are the saga's tables, whose changelogs Faust compacts.
    assert [topic.name for topic in TOPICS if topic.compacted] == []
