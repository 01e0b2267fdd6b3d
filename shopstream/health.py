"""Readiness probes of the platform's dependencies, each a real round trip.

Shared by the gateway's ``/readyz`` and the local stack's ``status``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import aiomqtt
import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from kombu.connection import Connection

from shopstream.aws import aws_client
from shopstream.settings import Settings

HEALTH_TOPIC = "shopstream.health"


@dataclass(frozen=True)
class DependencyHealth:
    name: str
    address: str
    ok: bool
    latency_ms: float
    detail: str = ""


async def kafka_round_trip(settings: Settings) -> str:
    """Produce a unique record and read it back from the same offset."""
    servers = settings.kafka_bootstrap_servers
    admin = AIOKafkaAdminClient(bootstrap_servers=servers, request_timeout_ms=5000)
    await admin.start()
    try:
        if HEALTH_TOPIC not in await admin.list_topics():
            with contextlib.suppress(TopicAlreadyExistsError):  # a concurrent probe made it
                await admin.create_topics(
                    [NewTopic(HEALTH_TOPIC, num_partitions=1, replication_factor=1)]
                )
    finally:
        await admin.close()
    token = uuid.uuid4().bytes
    producer = AIOKafkaProducer(bootstrap_servers=servers, acks="all")
    await producer.start()
    try:
        sent = await producer.send_and_wait(HEALTH_TOPIC, token)
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(bootstrap_servers=servers, enable_auto_commit=False)
    await consumer.start()
    try:
        partition = TopicPartition(HEALTH_TOPIC, sent.partition)
        consumer.assign([partition])
        consumer.seek(partition, sent.offset)
        record = await consumer.getone(partition)
    finally:
        await consumer.stop()
    if record.value != token:
        raise RuntimeError("read back a different record than was produced")
    return f"round trip via {HEALTH_TOPIC}@{sent.offset}"


async def postgres_query(settings: Settings) -> str:
    connection = await asyncpg.connect(
        settings.database_url.get_secret_value(), timeout=settings.health_timeout_s
    )
    try:
        version = await connection.fetchval("SHOW server_version")
    finally:
        await connection.close()
    return f"PostgreSQL {version}"


def _amqp_connect(settings: Settings) -> str:
    with Connection(
        settings.amqp_url.get_secret_value(), connect_timeout=settings.health_timeout_s
    ) as connection:
        connection.ensure_connection(max_retries=1)
        properties = connection.connection.server_properties
    return f"{properties.get('product', 'AMQP')} {properties.get('version', '')}".strip()


async def amqp_connect(settings: Settings) -> str:
    return await asyncio.to_thread(_amqp_connect, settings)


async def mqtt_connect(settings: Settings) -> str:
    async with aiomqtt.Client(
        settings.mqtt_host,
        settings.mqtt_port,
        username=settings.mqtt_username,
        password=settings.mqtt_password.get_secret_value(),
        identifier=f"shopstream-health-{uuid.uuid4().hex[:8]}",
        timeout=settings.health_timeout_s,
    ):
        return "MQTT connect accepted"


async def aws_identity(settings: Settings) -> str:
    async with aws_client(settings, "sts") as sts:
        identity = await sts.get_caller_identity()
    return f"account {identity['Account']}"


Probe = Callable[[Settings], Awaitable[str]]


def dependency_probes(settings: Settings) -> dict[str, tuple[str, Probe]]:
    """name -> (address, probe) for every dependency the services need."""
    return {
        "kafka": (settings.kafka_bootstrap_servers, kafka_round_trip),
        "postgres": (_host_of(settings.database_url.get_secret_value()), postgres_query),
        "rabbitmq": (_host_of(settings.amqp_url.get_secret_value()), amqp_connect),
        "mqtt": (f"{settings.mqtt_host}:{settings.mqtt_port}", mqtt_connect),
        "aws": (settings.aws_endpoint_url or f"AWS {settings.aws_region}", aws_identity),
    }


async def probe(name: str, address: str, check: Probe, settings: Settings) -> DependencyHealth:
    started = time.perf_counter()
    try:
        detail = await asyncio.wait_for(check(settings), settings.health_timeout_s)
        ok = True
    except Exception as error:
        detail, ok = f"{type(error).__name__}: {error}", False
    latency_ms = round((time.perf_counter() - started) * 1000, 1)
    return DependencyHealth(name, address, ok, latency_ms, detail)


async def check_all(settings: Settings) -> list[DependencyHealth]:
    probes = dependency_probes(settings)
    return list(
        await asyncio.gather(
            *(probe(name, address, check, settings) for name, (address, check) in probes.items())
        )
    )


def _host_of(url: str) -> str:
    """host:port of a URL, without the credentials."""
    return url.split("@", 1)[-1].split("/", 1)[0]
