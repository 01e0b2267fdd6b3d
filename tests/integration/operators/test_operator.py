"""The operator end to end: `kubectl apply` on a real kube-apiserver, the resources checked in
the real Kafka, moto (SQS/SNS) and RabbitMQ. Names carry the module's suffix: the backends are
shared with other tests and developers."""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from shopstream.aws import aws_client
from shopstream.settings import Settings
from tests.integration.operators.conftest import (
    DRIFT_INTERVAL_S,
    Namespace,
    Operator,
    connection_secrets_binding,
)
from tests.integration.polling import eventually

pytestmark = pytest.mark.stack

API_VERSION = "messaging.shopstream.io/v1alpha1"
# One timer period, plus the time for a pass to notice and act on a loaded 2-core machine.
DRIFT_DEADLINE_S = DRIFT_INTERVAL_S + 8.0


def resource(kind: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": API_VERSION, "kind": kind, "metadata": {"name": name}, "spec": spec}


def kafka_topic(name: str, partitions: int, **spec: Any) -> dict[str, Any]:
    connection = {"connectionSecretRef": {"name": "kafka-connection"}}
    return resource("KafkaTopic", name, {"partitions": partitions, **connection, **spec})


def sqs_queue(name: str, **spec: Any) -> dict[str, Any]:
    return resource("SqsQueue", name, {"connectionSecretRef": {"name": "aws-connection"}, **spec})


async def until_ready(
    namespace: Namespace, operator: Operator, plural: str, name: str, status: str = "True"
) -> dict[str, Any]:
    async def check() -> dict[str, Any] | None:
        condition = namespace.ready(plural, name)
        return condition if condition is not None and condition["status"] == status else None

    return await eventually(
        check, f"{plural}/{name} Ready={status}", explain=lambda: operator.log_tail()
    )


@pytest.fixture
async def kafka(stack_settings: Settings) -> AsyncIterator[AIOKafkaAdminClient]:
    admin = AIOKafkaAdminClient(bootstrap_servers=stack_settings.kafka_bootstrap_servers)
    await admin.start()
    yield admin
    await admin.close()


async def partitions(kafka: AIOKafkaAdminClient, topic: str) -> int | None:
    (described,) = await kafka.describe_topics([topic])
    return None if described["error_code"] else len(described["partitions"])


async def topic_config(kafka: AIOKafkaAdminClient, topic: str) -> dict[str, str]:
    (response,) = await kafka.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])
    (found,) = response.to_object()["resources"]
    return {entry["config_names"]: entry["config_value"] for entry in found["config_entries"]}


async def queue_attributes(settings: Settings, name: str) -> dict[str, str] | None:
    async with aws_client(settings, "sqs") as sqs:
        try:
            url = (await sqs.get_queue_url(QueueName=name))["QueueUrl"]
        except sqs.exceptions.QueueDoesNotExist:
            return None
        answer = await sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])
        return {"QueueUrl": url, **answer["Attributes"]}


def rabbit(settings: Settings) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{settings.ports.rabbitmq_management}",
        auth=("shopstream", "shopstream"),
        timeout=10,
    )


async def test_a_kafka_topic_is_created_ready_and_its_partitions_grow(
    namespace: Namespace, operator: Operator, kafka: AIOKafkaAdminClient
) -> None:
    name = f"orders-{namespace.suffix}"
    namespace.apply(kafka_topic(name, 2, config={"retention.ms": "3600000"}))
    condition = await until_ready(namespace, operator, "kafkatopics", name)
    assert condition["reason"] == "Reconciled"
    assert await partitions(kafka, name) == 2
    assert (await topic_config(kafka, name))["retention.ms"] == "3600000"

    namespace.apply(kafka_topic(name, 5, config={"retention.ms": "3600000"}))
    await until_ready(namespace, operator, "kafkatopics", name)
    assert await partitions(kafka, name) == 5
    found = namespace.get("kafkatopics", name)
    assert found is not None
    assert found["status"]["topicName"] == name
    assert found["status"]["claimed"] == [f"topic:{name}"]


async def test_shrinking_partitions_is_refused_and_nothing_changes(
    namespace: Namespace, operator: Operator, kafka: AIOKafkaAdminClient
) -> None:
    # The API server refuses a smaller spec outright (the CRD's transition rule)...
    name = f"shrink-{namespace.suffix}"
    namespace.apply(kafka_topic(name, 3))
    await until_ready(namespace, operator, "kafkatopics", name)
    refusal = namespace.apply(kafka_topic(name, 2), check=False)
    assert "partitions can only be increased" in refusal
    # ...and the operator refuses a spec smaller than the topic it finds, which no API rule
    # can see: here a topic with 3 partitions, taken over by a resource asking for 2.
    existing = f"bigger-{namespace.suffix}"
    await kafka.create_topics([NewTopic(existing, 3, 1)])
    namespace.apply(kafka_topic(existing, 2, adopt=True))
    condition = await until_ready(namespace, operator, "kafkatopics", existing, status="False")
    assert condition["reason"] == "PartitionsCannotShrink"
    assert "has 3 partitions" in condition["message"]
    assert await partitions(kafka, existing) == 3
    assert await partitions(kafka, name) == 3
    await kafka.delete_topics([existing])  # never the operator's: it refused to take it


async def test_an_invalid_spec_is_terminal_and_its_condition_says_why(
    namespace: Namespace, operator: Operator, kafka: AIOKafkaAdminClient, stack_settings: Settings
) -> None:
    # Found by the operator: an SQS name cannot hold the '.' that a Kubernetes name may.
    dotted = f"bad.{namespace.suffix}"
    namespace.apply(sqs_queue(dotted))
    condition = await until_ready(namespace, operator, "sqsqueues", dotted, status="False")
    assert condition["reason"] == "InvalidSpec"
    assert "set spec.queueName" in condition["message"]
    # Found by Kafka: three replicas on a one-broker cluster.
    replicated = f"replicated-{namespace.suffix}"
    namespace.apply(kafka_topic(replicated, 1, replicationFactor=3))
    condition = await until_ready(namespace, operator, "kafkatopics", replicated, status="False")
    assert condition["reason"] == "InvalidReplicationFactor"
    assert "only 1 broker" in condition["message"]
    assert await partitions(kafka, replicated) is None
    # Terminal: no retry storm. Timer passes go on (the timer is the pace), the change
    # handler is not retried, and the condition stays as it was.
    first = condition["lastTransitionTime"]
    retried = await metric(operator, "KafkaTopic", "change", "refused")
    timed = await metric(operator, "KafkaTopic", "timer", "refused")

    async def two_timer_passes() -> bool:
        return await metric(operator, "KafkaTopic", "timer", "refused") >= timed + 2

    await eventually(two_timer_passes, "two timer passes", DRIFT_DEADLINE_S * 2, operator.log_tail)
    assert await metric(operator, "KafkaTopic", "change", "refused") == retried
    again = namespace.ready("kafkatopics", replicated)
    assert again is not None
    assert (again["status"], again["lastTransitionTime"]) == ("False", first)


async def metric(operator: Operator, kind: str, trigger: str, outcome: str) -> float:
    async with httpx.AsyncClient() as client:
        text = (await client.get(operator.metrics_url)).text
    labels = (f'kind="{kind}"', f'trigger="{trigger}"', f'outcome="{outcome}"')
    for line in text.splitlines():
        if line.startswith("shopstream_operator_reconciles_total{") and all(
            label in line for label in labels
        ):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


async def test_sqs_queue_with_dead_letter_and_an_sns_subscription_deliver(
    namespace: Namespace, operator: Operator, stack_settings: Settings
) -> None:
    dlq, queue, topic = (f"{part}-{namespace.suffix}" for part in ("dlq", "events", "notices"))
    namespace.apply(
        sqs_queue(
            queue,
            visibilityTimeoutSeconds=45,
            deadLetter={"queueRef": {"name": dlq}, "maxReceiveCount": 3},
        ),
        sqs_queue(dlq, messageRetentionSeconds=1209600),
        resource(
            "SnsTopic",
            topic,
            {
                "connectionSecretRef": {"name": "aws-connection"},
                "subscriptions": [
                    {
                        "name": "events",
                        "protocol": "sqs",
                        "queueRef": {"name": queue},
                        "rawMessageDelivery": True,
                        "filterPolicy": {"type": ["OrderPlaced"]},
                    }
                ],
            },
        ),
    )
    for plural, name in (("sqsqueues", dlq), ("sqsqueues", queue), ("snstopics", topic)):
        await until_ready(namespace, operator, plural, name)
    attributes = await queue_attributes(stack_settings, queue)
    dead_letter = await queue_attributes(stack_settings, dlq)
    assert attributes is not None and dead_letter is not None
    assert attributes["VisibilityTimeout"] == "45"
    redrive = json.loads(attributes["RedrivePolicy"])
    assert redrive["deadLetterTargetArn"] == dead_letter["QueueArn"]
    assert int(redrive["maxReceiveCount"]) == 3
    found = namespace.get("sqsqueues", queue)
    assert found is not None and found["status"]["queueArn"] == attributes["QueueArn"]

    status = (namespace.get("snstopics", topic) or {})["status"]
    async with aws_client(stack_settings, "sns") as sns:
        await sns.publish(
            TopicArn=status["topicArn"],
            Message="placed",
            MessageAttributes={"type": {"DataType": "String", "StringValue": "OrderPlaced"}},
        )
    async with aws_client(stack_settings, "sqs") as sqs:
        received = await sqs.receive_message(
            QueueUrl=attributes["QueueUrl"], WaitTimeSeconds=5, MaxNumberOfMessages=1
        )
    assert [message["Body"] for message in received["Messages"]] == ["placed"]  # raw delivery
    assert status["subscriptions"][0]["endpoint"] == attributes["QueueArn"]


async def test_an_mq_binding_declares_exchange_queues_bindings_and_mqtt_filters(
    namespace: Namespace, operator: Operator, stack_settings: Settings
) -> None:
    name, exchange = f"shipping-{namespace.suffix}", f"shipping.{namespace.suffix}"
    labels, tracking = f"{exchange}.labels", f"{exchange}.tracking"
    namespace.apply(mq_binding(name, exchange, labels, tracking))
    await until_ready(namespace, operator, "mqbindings", name)
    async with rabbit(stack_settings) as http:
        found = (await http.get(f"/api/exchanges/%2F/{quote(exchange)}")).json()
        assert (found["type"], found["durable"]) == ("topic", True)
        queue = (await http.get(f"/api/queues/%2F/{quote(labels)}")).json()
        assert queue["arguments"]["x-queue-type"] == "quorum"
        bindings = (await http.get(f"/api/exchanges/%2F/{quote(exchange)}/bindings/source")).json()
        assert sorted((b["destination"], b["routing_key"]) for b in bindings) == [
            (labels, "order.paid"),
            (tracking, "shipment.*"),
        ]
        mqtt = (await http.get(f"/api/bindings/%2F/e/amq.topic/e/{quote(exchange)}")).json()
        assert [b["routing_key"] for b in mqtt] == ["devices.*.scan"]


def mq_binding(name: str, exchange: str, labels: str, tracking: str) -> dict[str, Any]:
    return resource(
        "MqBinding",
        name,
        {
            "exchange": {"name": exchange, "type": "topic"},
            "queues": [
                {"name": labels, "arguments": {"x-queue-type": "quorum"}},
                {"name": tracking},
            ],
            "bindings": [
                {"queue": labels, "routingKey": "order.paid"},
                {"queue": tracking, "routingKey": "shipment.*"},
            ],
            "mqttTopics": ["devices/+/scan"],
            "connectionSecretRef": {"name": "rabbitmq-connection"},
        },
    )


async def test_drift_is_repaired_within_one_timer_period(
    namespace: Namespace, operator: Operator, stack_settings: Settings
) -> None:
    queue = f"drift-{namespace.suffix}"
    namespace.apply(sqs_queue(queue, visibilityTimeoutSeconds=30))
    await until_ready(namespace, operator, "sqsqueues", queue)
    before = await queue_attributes(stack_settings, queue)
    assert before is not None
    async with aws_client(stack_settings, "sqs") as sqs:
        await sqs.set_queue_attributes(
            QueueUrl=before["QueueUrl"], Attributes={"VisibilityTimeout": "99"}
        )

    async def set_back() -> bool:
        now = await queue_attributes(stack_settings, queue)
        return now is not None and now["VisibilityTimeout"] == "30"

    await eventually(set_back, "VisibilityTimeout set back", DRIFT_DEADLINE_S, operator.log_tail)
    async with aws_client(stack_settings, "sqs") as sqs:
        await sqs.delete_queue(QueueUrl=before["QueueUrl"])

    async def recreated() -> bool:
        now = await queue_attributes(stack_settings, queue)
        return now is not None and now["VisibilityTimeout"] == "30"

    await eventually(recreated, "the deleted queue back", DRIFT_DEADLINE_S, operator.log_tail)
    events = namespace.kubectl("get", "events", "--field-selector", "reason=DriftRepaired")
    assert queue in events


async def test_deletion_deletes_or_retains_as_the_policy_says(
    namespace: Namespace, operator: Operator, kafka: AIOKafkaAdminClient, stack_settings: Settings
) -> None:
    deleted, retained = f"gone-{namespace.suffix}", f"kept-{namespace.suffix}"
    namespace.apply(kafka_topic(deleted, 1), sqs_queue(retained, deletionPolicy="retain"))
    await until_ready(namespace, operator, "kafkatopics", deleted)
    await until_ready(namespace, operator, "sqsqueues", retained)
    namespace.kubectl("delete", f"kafkatopic/{deleted}", f"sqsqueue/{retained}", "--timeout=30s")

    async def topic_gone() -> bool:
        return await partitions(kafka, deleted) is None

    await eventually(topic_gone, f"topic {deleted} deleted", explain=operator.log_tail)
    kept = await queue_attributes(stack_settings, retained)
    assert kept is not None
    assert namespace.get("sqsqueues", retained) is None
    async with aws_client(stack_settings, "sqs") as sqs:
        await sqs.delete_queue(QueueUrl=kept["QueueUrl"])


async def test_a_pre_existing_queue_is_refused_until_adopted_then_kept_and_reconciled(
    namespace: Namespace, operator: Operator, stack_settings: Settings
) -> None:
    name = f"legacy-{namespace.suffix}"
    async with aws_client(stack_settings, "sqs") as sqs:
        url = (await sqs.create_queue(QueueName=name, Attributes={"DelaySeconds": "7"}))["QueueUrl"]
    namespace.apply(sqs_queue(name, delaySeconds=2))
    condition = await until_ready(namespace, operator, "sqsqueues", name, status="False")
    assert condition["reason"] == "AlreadyExists"
    assert "spec.adopt" in condition["message"]
    assert (await queue_attributes(stack_settings, name) or {})["DelaySeconds"] == "7"

    namespace.apply(sqs_queue(name, delaySeconds=2, adopt=True))
    await until_ready(namespace, operator, "sqsqueues", name)
    adopted = await queue_attributes(stack_settings, name)
    assert adopted is not None
    assert (adopted["QueueUrl"], adopted["DelaySeconds"]) == (url, "2")
    found = namespace.get("sqsqueues", name) or {}
    assert found["status"]["adopted"] == [f"queue:{name}"]
    assert "deletionPolicy" not in found["spec"]  # unset: the CRD fills in no default

    # Deleting the resource that adopted it leaves the queue to whoever made it: without a
    # deletionPolicy, taking a queue over does not mean being able to delete it.
    namespace.kubectl("delete", f"sqsqueue/{name}", "--timeout=30s")
    assert namespace.get("sqsqueues", name) is None
    assert (await queue_attributes(stack_settings, name) or {}).get("QueueUrl") == url
    async with aws_client(stack_settings, "sqs") as sqs:
        await sqs.delete_queue(QueueUrl=url)


async def test_a_queue_the_resource_created_is_deleted_with_it_when_no_policy_is_set(
    namespace: Namespace, operator: Operator, stack_settings: Settings
) -> None:
    name = f"made-{namespace.suffix}"
    namespace.apply(sqs_queue(name))
    await until_ready(namespace, operator, "sqsqueues", name)
    assert (namespace.get("sqsqueues", name) or {})["status"]["adopted"] == []
    namespace.kubectl("delete", f"sqsqueue/{name}", "--timeout=30s")

    async def queue_gone() -> bool:
        return await queue_attributes(stack_settings, name) is None

    await eventually(queue_gone, f"queue {name} deleted", explain=operator.log_tail)


@pytest.fixture(scope="module")
def other_namespace(namespace: Namespace) -> Namespace:
    """Another tenant's namespace, with an AWS connection Secret the operator may read there."""
    other = Namespace(f"{namespace.name}-other", namespace.cluster, namespace.suffix)
    namespace.cluster.kubectl("create", "namespace", other.name)
    secret = namespace.kubectl("get", "secret", "aws-connection", "-o", "json")
    document = json.loads(secret)
    other.apply(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "aws-connection"},
            "data": document["data"],
        },
        connection_secrets_binding(),
    )
    return other


async def test_a_connection_secret_of_another_namespace_is_refused(
    namespace: Namespace, other_namespace: Namespace, operator: Operator, stack_settings: Settings
) -> None:
    name = f"borrowed-{namespace.suffix}"
    borrowed = {"name": "aws-connection", "namespace": other_namespace.name}
    namespace.apply(resource("SqsQueue", name, {"connectionSecretRef": borrowed}))
    condition = await until_ready(namespace, operator, "sqsqueues", name, status="False")
    assert condition["reason"] == "InvalidSpec"
    assert f"must be in this resource's own namespace ({namespace.name!r})" in condition["message"]
    assert await queue_attributes(stack_settings, name) is None


def test_the_operator_reads_secrets_only_where_a_namespace_grants_it(
    namespace: Namespace,
) -> None:
    account = "system:serviceaccount:shopstream-system:shopstream-operator"

    def can_read_secrets(where: str) -> str:
        # kubectl answers "no" with exit status 1: not an error here.
        answer = subprocess.run(
            [
                *("kubectl", f"--kubeconfig={namespace.cluster.kube.kubeconfig}"),
                *("auth", "can-i", "get", "secrets", "-n", where, f"--as={account}"),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        assert answer.stdout.strip() in {"yes", "no"}, answer.stderr
        return answer.stdout.strip()

    assert can_read_secrets(namespace.name) == "yes"
    assert can_read_secrets("kube-system") == "no"
    assert can_read_secrets("shopstream-system") == "no"


def sns_topic(name: str, *subscriptions: dict[str, Any]) -> dict[str, Any]:
    spec = {"connectionSecretRef": {"name": "aws-connection"}, "subscriptions": list(subscriptions)}
    return resource("SnsTopic", name, spec)


@pytest.mark.parametrize(
    ("protocol", "endpoint", "why"),
    [
        ("https", "https://attacker.example.invalid/collect", "matches no allowed pattern"),
        ("https", "https://hooks.example.invalid.attacker.example/x", "matches no allowed pattern"),
        ("email", "someone@example.invalid", "protocol 'email' is not allowed"),
        ("sqs", "arn:aws:sqs:us-east-1:999999999999:elsewhere", "matches no allowed pattern"),
    ],
    ids=["other host", "lookalike host", "email", "foreign queue"],
)
async def test_an_sns_subscription_outside_the_allow_list_is_refused_and_nothing_is_made(
    namespace: Namespace,
    operator: Operator,
    stack_settings: Settings,
    protocol: str,
    endpoint: str,
    why: str,
) -> None:
    name = f"leak-{protocol}-{uuid.uuid4().hex[:6]}"
    namespace.apply(sns_topic(name, {"name": "out", "protocol": protocol, "endpoint": endpoint}))
    condition = await until_ready(namespace, operator, "snstopics", name, status="False")
    assert condition["reason"] == "EndpointNotAllowed"
    assert why in condition["message"]
    async with aws_client(stack_settings, "sns") as sns:
        topics = (await sns.list_topics())["Topics"]
    assert not [t for t in topics if t["TopicArn"].endswith(f":{name}")]


async def test_an_sns_subscription_on_the_allow_list_is_made(
    namespace: Namespace, operator: Operator, stack_settings: Settings
) -> None:
    name = f"hooked-{namespace.suffix}"
    endpoint = "https://hooks.example.invalid/orders"
    namespace.apply(sns_topic(name, {"name": "hook", "protocol": "https", "endpoint": endpoint}))
    await until_ready(namespace, operator, "snstopics", name)
    status = (namespace.get("snstopics", name) or {})["status"]
    async with aws_client(stack_settings, "sns") as sns:
        found = await sns.list_subscriptions_by_topic(TopicArn=status["topicArn"])
    assert [(s["Protocol"], s["Endpoint"]) for s in found["Subscriptions"]] == [("https", endpoint)]


async def test_an_operator_killed_midway_resumes_without_duplicates(
    namespace: Namespace, operator: Operator, stack_settings: Settings, kafka: AIOKafkaAdminClient
) -> None:
    suffix = f"r{namespace.suffix}"
    queue, topic, binding = f"restart-{suffix}", f"restart-{suffix}", f"restart-{suffix}"
    exchange = f"restart.{suffix}"
    operator.kill()
    namespace.apply(
        sqs_queue(queue),
        resource(
            "SnsTopic",
            topic,
            {
                "connectionSecretRef": {"name": "aws-connection"},
                "subscriptions": [{"name": "q", "protocol": "sqs", "queueRef": {"name": queue}}],
            },
        ),
        mq_binding(binding, exchange, f"{exchange}.labels", f"{exchange}.tracking"),
        kafka_topic(topic, 2),
    )
    # Killed the moment it reports the first of them done, the others half done or not begun.
    operator.start()

    async def first_done() -> bool:
        return operator.new_log().count(" reconciled: ") > 0

    await eventually(first_done, "a first resource reconciled", explain=operator.log_tail)
    operator.kill()
    operator.start()
    for plural, name in (
        ("sqsqueues", queue),
        ("snstopics", topic),
        ("mqbindings", binding),
        ("kafkatopics", topic),
    ):
        await until_ready(namespace, operator, plural, name)

    async with aws_client(stack_settings, "sns") as sns:
        arn = (namespace.get("snstopics", topic) or {})["status"]["topicArn"]
        subscriptions = (await sns.list_subscriptions_by_topic(TopicArn=arn))["Subscriptions"]
        topics = (await sns.list_topics())["Topics"]
    assert len(subscriptions) == 1
    assert [t["TopicArn"] for t in topics].count(arn) == 1
    async with aws_client(stack_settings, "sqs") as sqs:
        urls = (await sqs.list_queues(QueueNamePrefix=queue)).get("QueueUrls", [])
    assert len(urls) == 1
    async with rabbit(stack_settings) as http:
        bindings = (await http.get(f"/api/exchanges/%2F/{quote(exchange)}/bindings/source")).json()
    assert len(bindings) == 2
    assert await partitions(kafka, topic) == 2
