"""The four kinds' specs, parsed from a resource's body into typed values, and checked.

The CRDs' schemas already refuse most bad input at the API server; these checks are the
rules a schema cannot express (names derived from ``metadata.name``, FIFO pairs, quorum
queues being durable) plus a second look at the rest, since a CRD may be older than the
operator. Pure: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from operators.problems import Refused

DeletionPolicy = Literal["delete", "retain"]

_KAFKA_NAME = re.compile(r"[a-zA-Z0-9._-]{1,249}")
_AWS_NAME = re.compile(r"[A-Za-z0-9_-]+")
FIFO_SUFFIX = ".fifo"


def invalid(message: str) -> Refused:
    return Refused("InvalidSpec", message)


@dataclass(frozen=True, slots=True)
class SecretRef:
    name: str
    namespace: str


@dataclass(frozen=True, slots=True)
class Management:
    """What every kind shares: where its backend is, what deletion means, and adoption."""

    connection: SecretRef
    # None: not given. What was created is then deleted with the resource, and what was
    # adopted is kept (``deletion_policy``).
    deletion_policy: DeletionPolicy | None
    adopt: bool


def management(namespace: str, spec: Mapping[str, Any]) -> Management:
    ref = spec.get("connectionSecretRef")
    if not isinstance(ref, Mapping) or not ref.get("name"):
        raise invalid("spec.connectionSecretRef.name is required: the Secret with the connection")
    secret_namespace = str(ref.get("namespace") or namespace)
    if secret_namespace != namespace:
        # Whoever may create a resource here may not borrow another namespace's credentials.
        raise invalid(
            f"spec.connectionSecretRef.namespace {secret_namespace!r}: the connection Secret "
            f"must be in this resource's own namespace ({namespace!r})"
        )
    policy = spec.get("deletionPolicy")
    if policy not in ("delete", "retain", None):
        raise invalid(f"spec.deletionPolicy must be delete or retain, not {policy!r}")
    return Management(
        connection=SecretRef(str(ref["name"]), namespace),
        deletion_policy=policy,
        adopt=bool(spec.get("adopt", False)),
    )


def kept_on_delete(
    policy: DeletionPolicy | None, claimed: Iterable[str], adopted: Iterable[str]
) -> set[str]:
    """Which claimed backend resources deleting the resource leaves in place.

    ``retain`` keeps all, ``delete`` none. Unset, what this resource adopted stays: it was
    someone's before, and taking it over must not mean being able to delete it by default.
    """
    if policy == "retain":
        return set(claimed)
    if policy == "delete":
        return set()
    return set(claimed) & set(adopted)


@dataclass(frozen=True, slots=True)
class KafkaTopicSpec:
    topic_name: str
    partitions: int
    replication_factor: int | None  # None: the cluster's default
    config: Mapping[str, str]


def kafka_topic(name: str, spec: Mapping[str, Any]) -> KafkaTopicSpec:
    topic_name = str(spec.get("topicName") or name)
    if not _KAFKA_NAME.fullmatch(topic_name) or topic_name in {".", ".."}:
        raise invalid(
            f"topic name {topic_name!r} is not a Kafka topic name "
            "(1-249 of letters, digits, '.', '_', '-')"
        )
    partitions = spec.get("partitions", 1)
    if not isinstance(partitions, int) or partitions < 1:
        raise invalid(f"spec.partitions must be a positive integer, not {partitions!r}")
    factor = spec.get("replicationFactor")
    if factor is not None and (not isinstance(factor, int) or factor < 1):
        raise invalid(f"spec.replicationFactor must be a positive integer, not {factor!r}")
    config = spec.get("config") or {}
    if not all(isinstance(value, str) for value in config.values()):
        raise invalid("spec.config values must be strings (quote numbers in YAML)")
    return KafkaTopicSpec(topic_name, partitions, factor, dict(config))


def _aws_name(kind: str, field: str, name: str, explicit: object, fifo: bool) -> str:
    """SQS and SNS names: letters, digits, '-' and '_', and '.fifo' exactly when FIFO."""
    chosen = str(explicit) if explicit else name + (FIFO_SUFFIX if fifo else "")
    if chosen.endswith(FIFO_SUFFIX) != fifo:
        raise invalid(f"{kind} name {chosen!r} must end with '.fifo' if and only if fifo is true")
    base = chosen.removesuffix(FIFO_SUFFIX) if fifo else chosen
    if not _AWS_NAME.fullmatch(base):
        origin = f"spec.{field}" if explicit else f"metadata.name {name!r}"
        raise invalid(
            f"{kind} name {chosen!r} (from {origin}) may only hold letters, digits, '-' and '_'"
            f"{'' if explicit else f'; set spec.{field}'}"
        )
    return chosen


@dataclass(frozen=True, slots=True)
class DeadLetter:
    queue: str  # an SqsQueue of the same namespace
    max_receive_count: int


@dataclass(frozen=True, slots=True)
class SqsQueueSpec:
    queue_name: str
    fifo: bool
    visibility_timeout_s: int | None
    message_retention_s: int | None
    delay_s: int | None
    receive_wait_s: int | None
    dead_letter: DeadLetter | None


def sqs_queue(name: str, spec: Mapping[str, Any]) -> SqsQueueSpec:
    fifo = bool(spec.get("fifo", False))
    queue_name = _aws_name("SQS queue", "queueName", name, spec.get("queueName"), fifo)
    if len(queue_name) > 80:
        raise invalid(f"SQS queue name {queue_name!r} is longer than 80 characters")
    dead_letter = None
    if (target := spec.get("deadLetter")) is not None:
        ref = target.get("queueRef") or {}
        if not ref.get("name"):
            raise invalid("spec.deadLetter.queueRef.name is required")
        if ref["name"] == name:
            raise invalid("a queue cannot be its own dead-letter queue")
        dead_letter = DeadLetter(str(ref["name"]), int(target.get("maxReceiveCount", 0)))
        if dead_letter.max_receive_count < 1:
            raise invalid("spec.deadLetter.maxReceiveCount must be at least 1")
    return SqsQueueSpec(
        queue_name=queue_name,
        fifo=fifo,
        visibility_timeout_s=spec.get("visibilityTimeoutSeconds"),
        message_retention_s=spec.get("messageRetentionSeconds"),
        delay_s=spec.get("delaySeconds"),
        receive_wait_s=spec.get("receiveWaitTimeSeconds"),
        dead_letter=dead_letter,
    )


@dataclass(frozen=True, slots=True)
class SubscriptionSpec:
    name: str
    protocol: str
    endpoint: str | None
    queue: str | None  # an SqsQueue of the same namespace, for protocol sqs
    filter_policy: Mapping[str, Any] | None
    filter_policy_scope: str
    raw_message_delivery: bool


@dataclass(frozen=True, slots=True)
class SnsTopicSpec:
    topic_name: str
    fifo: bool
    subscriptions: tuple[SubscriptionSpec, ...]


def sns_topic(name: str, spec: Mapping[str, Any]) -> SnsTopicSpec:
    fifo = bool(spec.get("fifo", False))
    topic_name = _aws_name("SNS topic", "topicName", name, spec.get("topicName"), fifo)
    subscriptions = []
    seen: set[str] = set()
    for item in spec.get("subscriptions") or []:
        sub_name = str(item.get("name", ""))
        if not sub_name or sub_name in seen:
            raise invalid(f"subscription names must be present and unique ({sub_name!r})")
        seen.add(sub_name)
        endpoint, queue = item.get("endpoint"), (item.get("queueRef") or {}).get("name")
        if (endpoint is None) == (queue is None):
            raise invalid(f"subscription {sub_name}: set exactly one of endpoint or queueRef")
        protocol = str(item.get("protocol", ""))
        if queue is not None and protocol != "sqs":
            raise invalid(f"subscription {sub_name}: queueRef needs protocol sqs, not {protocol}")
        subscriptions.append(
            SubscriptionSpec(
                name=sub_name,
                protocol=protocol,
                endpoint=endpoint,
                queue=queue,
                filter_policy=item.get("filterPolicy"),
                filter_policy_scope=str(item.get("filterPolicyScope", "MessageAttributes")),
                raw_message_delivery=bool(item.get("rawMessageDelivery", False)),
            )
        )
    return SnsTopicSpec(topic_name, fifo, tuple(subscriptions))


@dataclass(frozen=True, slots=True)
class ExchangeSpec:
    name: str
    type: str
    durable: bool


@dataclass(frozen=True, slots=True)
class QueueSpec:
    name: str
    durable: bool
    arguments: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class BindingSpec:
    queue: str
    routing_key: str
    arguments: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class MqBindingSpec:
    exchange: ExchangeSpec
    queues: tuple[QueueSpec, ...]
    bindings: tuple[BindingSpec, ...]
    mqtt_topics: tuple[str, ...]


def mq_binding(spec: Mapping[str, Any]) -> MqBindingSpec:
    exchange = spec.get("exchange") or {}
    if not exchange.get("name") or exchange.get("type") not in {
        "direct",
        "topic",
        "fanout",
        "headers",
    }:
        raise invalid("spec.exchange needs a name and a type (direct, topic, fanout, headers)")
    if str(exchange["name"]).startswith("amq."):
        raise invalid("exchange names starting with 'amq.' are reserved by RabbitMQ")
    queues = tuple(
        QueueSpec(str(q["name"]), bool(q.get("durable", True)), dict(q.get("arguments") or {}))
        for q in spec.get("queues") or []
    )
    names = [queue.name for queue in queues]
    if len(set(names)) != len(names):
        raise invalid("spec.queues lists a queue twice")
    for queue in queues:
        if queue.arguments.get("x-queue-type") == "quorum" and not queue.durable:
            raise invalid(f"queue {queue.name}: quorum queues are always durable; drop durable")
    bindings = tuple(
        BindingSpec(str(b["queue"]), str(b.get("routingKey", "")), dict(b.get("arguments") or {}))
        for b in spec.get("bindings") or []
    )
    for binding in bindings:
        if binding.queue not in names:
            raise invalid(f"binding to {binding.queue}: that queue is not in spec.queues")
    topics = tuple(str(topic) for topic in spec.get("mqttTopics") or [])
    if topics and exchange["type"] != "topic":
        raise invalid("spec.mqttTopics needs a topic exchange (MQTT filters are topic patterns)")
    return MqBindingSpec(
        ExchangeSpec(
            str(exchange["name"]), str(exchange["type"]), bool(exchange.get("durable", True))
        ),
        queues,
        bindings,
        topics,
    )
