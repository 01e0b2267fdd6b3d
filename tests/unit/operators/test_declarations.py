from __future__ import annotations

from operators import declarations
from shopstream.settings import REPO_ROOT, Settings
from streams.carrier_topology import CarrierTopology
from streams.contract import Channel
from streams.notification_names import queue_names
from streams.topics import TOPICS, TopicSpec


def test_the_committed_manifests_are_what_the_topics_generate() -> None:
    for path, content in declarations.manifests().items():
        committed = (REPO_ROOT / path).read_text()
        assert committed == content, f"{path} is stale: python -m operators.declarations --write"


def test_every_topic_is_declared_once_and_retained_on_delete() -> None:
    documents = [declarations.kafka_topic(topic) for topic in TOPICS]
    assert sorted(doc["spec"]["topicName"] for doc in documents) == sorted(t.name for t in TOPICS)
    assert {doc["spec"]["deletionPolicy"] for doc in documents} == {"retain"}


def test_a_compacted_topic_is_declared_compacted() -> None:
    latest = TopicSpec("orders.latest", "order_id", compacted=True)
    spec = declarations.kafka_topic(latest)["spec"]
    assert spec["config"] == {"cleanup.policy": "compact"}


def test_scalars_that_yaml_would_misread_are_quoted() -> None:
    rendered = declarations.render([{"a": "true", "b": "1000", "c": "x, y", "d": "plain.name"}])
    assert rendered == '---\na: "true"\nb: "1000"\nc: "x, y"\nd: plain.name\n'


def test_the_carrier_link_declares_every_queue_the_shipping_side_binds() -> None:
    spec = declarations.carrier_link()["spec"]
    names = CarrierTopology()
    assert spec["exchange"]["name"] == names.exchange
    assert {(b["queue"], b["routingKey"]) for b in spec["bindings"]} == set(names.bindings)
    assert {queue["name"] for queue in spec["queues"]} == set(names.queues)


def test_each_notification_channel_has_a_queue_with_a_bounded_dead_letter_queue() -> None:
    settings = Settings.model_construct()
    documents = declarations.notification_resources(settings)
    queues = {
        doc["metadata"]["name"]: doc["spec"] for doc in documents if doc["kind"] == "SqsQueue"
    }
    for channel in Channel:
        names = queue_names(settings, channel)
        dead_letter = queues[names.queue]["deadLetter"]
        assert dead_letter["queueRef"]["name"] == names.dead_letter
        assert dead_letter["maxReceiveCount"] == settings.notification_max_receives
        assert names.dead_letter in queues


def test_the_notification_topic_routes_each_channel_to_its_queue_by_filter_policy() -> None:
    settings = Settings.model_construct()
    (topic,) = [
        doc for doc in declarations.notification_resources(settings) if doc["kind"] == "SnsTopic"
    ]
    routes = {
        sub["queueRef"]["name"]: sub["filterPolicy"] for sub in topic["spec"]["subscriptions"]
    }
    assert routes == {
        queue_names(settings, channel).queue: {"channel": [channel.value]} for channel in Channel
    }
    assert {sub["rawMessageDelivery"] for sub in topic["spec"]["subscriptions"]} == {True}
