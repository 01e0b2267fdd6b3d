"""KafkaTopic through Kafka's admin API (aiokafka)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any, ClassVar

from aiokafka.admin import AIOKafkaAdminClient, NewPartitions, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import KafkaError, for_code

from operators import specs
from operators.decisions import kafka as decisions
from operators.decisions.ownership import Ownership, ownership
from operators.problems import Problem, Refused, Unavailable
from operators.reconcilers.base import Context, Outcome

# Kafka error codes that no retry can cure: the request itself is wrong.
_REFUSALS = {
    17: "InvalidTopicName",
    37: "InvalidPartitions",
    38: "InvalidReplicationFactor",
    39: "InvalidReplicaAssignment",
    40: "InvalidConfig",
    42: "InvalidRequest",
    44: "PolicyViolation",
}
UNKNOWN_TOPIC = 3
TOPIC_EXISTS = 36
DYNAMIC_TOPIC_CONFIG = 1  # DescribeConfigs' config_source for a topic-level override
START_TIMEOUT_S = 15.0


def _problem(code: int, message: str | None, what: str) -> Problem:
    text = f"{what}: {for_code(code).__name__}: {message or 'no detail'}"
    if code in _REFUSALS:
        return Refused(_REFUSALS[code], text)
    return Unavailable("KafkaError", text)


@asynccontextmanager
async def admin(bootstrap_servers: str) -> AsyncIterator[AIOKafkaAdminClient]:
    client = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, request_timeout_ms=10_000)
    try:
        await asyncio.wait_for(client.start(), START_TIMEOUT_S)
    except (KafkaError, OSError, TimeoutError) as error:
        await client.close()
        raise Unavailable(
            "KafkaUnavailable", f"cannot reach Kafka at {bootstrap_servers}: {error!r}"
        ) from error
    try:
        yield client
    except KafkaError as error:
        raise Unavailable("KafkaError", f"Kafka at {bootstrap_servers}: {error!r}") from error
    finally:
        await client.close()


async def describe(kafka: AIOKafkaAdminClient, name: str) -> decisions.TopicState | None:
    (topic,) = await kafka.describe_topics([name])
    if topic["error_code"] == UNKNOWN_TOPIC:
        return None
    if topic["error_code"]:  # e.g. a leader not elected yet, just after creation
        raise _problem(topic["error_code"], None, f"describing topic {name}")
    partitions: list[dict[str, Any]] = topic["partitions"]
    (described,) = await kafka.describe_configs([ConfigResource(ConfigResourceType.TOPIC, name)])
    (resource,) = described.to_object()["resources"]
    if resource["error_code"]:
        raise _problem(resource["error_code"], resource["error_message"], f"configs of {name}")
    return decisions.TopicState(
        partitions=len(partitions),
        replication_factor=len(partitions[0]["replicas"]) if partitions else 0,
        config={
            entry["config_names"]: entry["config_value"]
            for entry in resource["config_entries"]
            if entry["config_source"] == DYNAMIC_TOPIC_CONFIG
        },
    )


async def apply(kafka: AIOKafkaAdminClient, action: decisions.Action) -> None:
    match action:
        case decisions.CreateTopic(name, partitions, factor, config):
            topic = NewTopic(name, partitions, factor or 1, topic_configs=dict(config))
            if factor is None:
                # -1 asks the broker for its default.replication.factor; aiokafka's NewTopic
                # only allows it together with a replica assignment, the protocol does not.
                topic.replication_factor = -1
            response = await kafka.create_topics([topic])
            for error in response.to_object()["topic_errors"]:
                if error["error_code"] == TOPIC_EXISTS:
                    # Made meanwhile (by us before a crash, or someone else): look again.
                    raise Unavailable("TopicAppeared", f"topic {name} appeared while creating")
                if error["error_code"]:
                    raise _problem(error["error_code"], error["error_message"], f"creating {name}")
        case decisions.AddPartitions(name, total):
            try:
                await kafka.create_partitions({name: NewPartitions(total)})
            except KafkaError as error:
                code = getattr(error, "errno", -1)
                raise _problem(code, str(error), f"growing {name}") from error
        case decisions.SetConfig(name, config):
            (response,) = await kafka.alter_configs(
                [ConfigResource(ConfigResourceType.TOPIC, name, configs=dict(config))]
            )
            for resource in response.to_object()["resources"]:
                if resource["error_code"]:
                    raise _problem(
                        resource["error_code"], resource["error_message"], f"configs of {name}"
                    )


class KafkaTopics:
    kind: ClassVar[str] = "KafkaTopic"
    plural: ClassVar[str] = "kafkatopics"

    async def reconcile(self, context: Context) -> Outcome:
        spec = specs.kafka_topic(context.name, context.spec)
        managed = specs.management(context.namespace, context.spec)
        secret = await context.kube.secret(managed.connection, ("bootstrapServers",))
        claim = f"topic:{spec.topic_name}"
        async with admin(secret["bootstrapServers"]) as kafka:
            actual = await describe(kafka, spec.topic_name)
            owner = ownership(
                f"Kafka topic {spec.topic_name}",
                actual is not None,
                claim in context.claimed,
                managed.adopt,
            )
            actions = decisions.plan(spec, actual)
            if owner is not Ownership.OWNED:
                await context.claim(claim, adopted=owner is Ownership.ADOPT)
            for action in actions:
                await apply(kafka, action)
        return Outcome(
            status={"topicName": spec.topic_name},
            changes=[action.describe() for action in actions],
            message=f"topic {spec.topic_name} has {spec.partitions} partitions",
        )

    async def delete(self, context: Context) -> Sequence[str]:
        spec = specs.kafka_topic(context.name, context.spec)
        managed = specs.management(context.namespace, context.spec)
        if f"topic:{spec.topic_name}" not in context.claimed:
            return []
        secret = await context.kube.secret(managed.connection, ("bootstrapServers",))
        async with admin(secret["bootstrapServers"]) as kafka:
            response = await kafka.delete_topics([spec.topic_name])
        for error in response.to_object()["topic_error_codes"]:
            if error["error_code"] not in (0, UNKNOWN_TOPIC):
                raise _problem(error["error_code"], None, f"deleting {spec.topic_name}")
        return [f"deleted topic {spec.topic_name}"]
