from __future__ import annotations

from operators import declarations
from shopstream.settings import REPO_ROOT
from streams.carrier_topology import CarrierTopology
from streams.topics import ORDERS_STATE, TOPICS


def test_the_committed_manifests_are_what_the_topics_generate() -> None:
    for path, content in declarations.manifests().items():
        committed = (REPO_ROOT / path).read_text()
        assert committed == content, f"{path} is stale: python -m operators.declarations --write"


def test_every_topic_is_declared_once_and_retained_on_delete() -> None:
    documents = [declarations.kafka_topic(topic) for topic in TOPICS]
    assert sorted(doc["spec"]["topicName"] for doc in documents) == sorted(t.name for t in TOPICS)
    assert {doc["spec"]["deletionPolicy"] for doc in documents} == {"retain"}


def test_a_compacted_topic_is_declared_compacted() -> None:
    spec = declarations.kafka_topic(ORDERS_STATE)["spec"]
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
