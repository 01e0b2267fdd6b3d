"""SQS dead-letter queues on the real moto server: found through their RedrivePolicy."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from prometheus_client import REGISTRY
from structlog.testing import capture_logs

from ops.dead_letters import commands
from ops.dead_letters.sqs import SqsDeadLetters, discover
from ops.dead_letters.watch import count_once
from shopstream.aws import aws_client
from shopstream.settings import Settings
from tests.integration.polling import eventually


@dataclass(frozen=True)
class Queues:
    sqs: Any
    source: str
    dead_letters: str
    name: str  # the dead-letter queue as ``dlq list`` shows it


@pytest.fixture
async def queues(isolated: Settings) -> AsyncIterator[Queues]:
    """A work queue whose messages go to its dead-letter queue after one receive."""
    async with aws_client(isolated, "sqs") as sqs:
        prefix = isolated.topic_prefix
        dlq = (await sqs.create_queue(QueueName=f"{prefix}work-dlq"))["QueueUrl"]
        arn = (await sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"]))[
            "Attributes"
        ]["QueueArn"]
        policy = json.dumps({"deadLetterTargetArn": arn, "maxReceiveCount": "1"})
        source = (
            await sqs.create_queue(QueueName=f"{prefix}work", Attributes={"RedrivePolicy": policy})
        )["QueueUrl"]
        try:
            yield Queues(sqs, source, dlq, f"sqs/{prefix}work-dlq")
        finally:
            await sqs.delete_queue(QueueUrl=source)
            await sqs.delete_queue(QueueUrl=dlq)


async def _poison(queues: Queues, body: str) -> None:
    """A message whose handler fails: received, never deleted, until SQS dead-letters it."""
    await queues.sqs.send_message(QueueUrl=queues.source, MessageBody=body)
    received = await queues.sqs.receive_message(
        QueueUrl=queues.source, WaitTimeSeconds=1, VisibilityTimeout=0
    )
    assert [m["Body"] for m in received["Messages"]] == [body]

    async def moved() -> bool:
        await queues.sqs.receive_message(QueueUrl=queues.source, VisibilityTimeout=0)
        attributes = await queues.sqs.get_queue_attributes(
            QueueUrl=queues.dead_letters, AttributeNames=["ApproximateNumberOfMessages"]
        )
        return int(attributes["Attributes"]["ApproximateNumberOfMessages"]) == 1

    await eventually(moved, "the poison message dead-lettered", timeout_s=60)


async def test_a_poison_message_is_listed_with_its_reason_and_redriven_to_be_processed_once(
    isolated: Settings, queues: Queues
) -> None:
    await _poison(queues, '{"notify": "poison"}')

    found = {queue.name: queue for queue in await discover(isolated)}
    assert list(found) == [queues.name]  # the work queue itself is no dead-letter queue
    lines: list[str] = []
    summaries = await commands.list_all(isolated, lines.append)
    [summary] = [s for s in summaries if s.name == queues.name]
    assert summary.count == 1 and summary.oldest_age_s is not None
    [letter] = await commands.show(isolated, queues.name, 10, lines.append)
    assert "maxReceiveCount 1" in letter.reason
    assert letter.text() == '{"notify": "poison"}'

    # The metrics a `dlq watch` process serves.
    await count_once(isolated, set())
    assert REGISTRY.get_sample_value("shopstream_dead_letters", {"queue": queues.name}) == 1

    assert await commands.redrive(isolated, queues.name, lines.append) == 1
    # Back on the work queue, and there once: a healthy handler takes it and deletes it.
    received = await queues.sqs.receive_message(QueueUrl=queues.source, WaitTimeSeconds=1)
    [message] = received["Messages"]
    assert message["Body"] == '{"notify": "poison"}'
    await queues.sqs.delete_message(QueueUrl=queues.source, ReceiptHandle=message["ReceiptHandle"])
    again = await queues.sqs.receive_message(QueueUrl=queues.source, WaitTimeSeconds=1)
    assert again.get("Messages", []) == []
    dead_letters = found[queues.name]
    assert isinstance(dead_letters, SqsDeadLetters)
    assert (await dead_letters.summary()).count == 0


async def test_purge_empties_a_dead_letter_queue(isolated: Settings, queues: Queues) -> None:
    await _poison(queues, "not even JSON")
    said: list[str] = []
    assert await commands.purge(isolated, queues.name, lambda q: True, said.append) == 1
    [dead_letters] = await discover(isolated)
    assert (await dead_letters.summary()).count == 0
    await count_once(isolated, set())
    assert REGISTRY.get_sample_value("shopstream_dead_letters", {"queue": queues.name}) == 0


async def test_with_emf_on_the_watch_logs_each_queues_figures_for_cloudwatch(
    isolated: Settings, queues: Queues
) -> None:
    await _poison(queues, '{"notify": "poison"}')
    emf = isolated.model_copy(update={"dead_letter_watch_emf": True})
    with capture_logs() as logged:
        await count_once(emf, set())
    [line] = [entry for entry in logged if entry.get("Queue") == queues.name]
    assert line["DeadLetters"] == 1 and line["DeadLetterOldestAgeSeconds"] >= 0
    assert line["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "shopstream"
    with capture_logs() as quiet:
        await count_once(isolated, set())
    assert not [entry for entry in quiet if "_aws" in entry]
