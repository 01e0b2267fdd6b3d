"""SQS dead-letter queues: every queue that another queue's RedrivePolicy names as its
``deadLetterTargetArn``, found through the API (queues come and go with the deployments that
own them; none is named here).

SQS records no reason when it moves a message to a dead-letter queue: the reason shown is what
SQS does record (the receive count, against the source's maxReceiveCount), or a message
attribute ``x-dead-letter-reason`` if the sender set one.

Redrive receives, sends to the source queue, then deletes (StartMessageMoveTask does the same
on AWS, but moto 5.2 does not implement it). A queue that is the target of several sources
cannot tell which source a message came from; it is redriven only when there is exactly one.
Looking (``peek``, and the oldest age in ``summary``) receives with a visibility timeout of 0:
it counts as a receive, which matters only if a dead-letter queue had a redrive policy itself.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ops.dead_letters.model import DeadLetter, Summary
from shopstream.aws import aws_client
from shopstream.settings import Settings

REASON_ATTRIBUTE = "x-dead-letter-reason"
_WAIT_S = 1  # long-poll seconds per receive while walking a queue


@dataclass(frozen=True, slots=True)
class Redrive:
    """One source queue's redrive policy: where its dead letters go, after how many receives."""

    source_url: str
    source_arn: str
    target_arn: str
    max_receive_count: int


def dead_letter_targets(policies: Mapping[str, Mapping[str, str]]) -> list[Redrive]:
    """Queue URL -> its attributes (QueueArn, RedrivePolicy) => each source's redrive. Pure."""
    found = []
    for url, attributes in policies.items():
        raw = attributes.get("RedrivePolicy")
        if not raw:
            continue
        policy = json.loads(raw)
        found.append(
            Redrive(
                url,
                attributes["QueueArn"],
                policy["deadLetterTargetArn"],
                int(policy["maxReceiveCount"]),
            )
        )
    return found


async def discover(settings: Settings) -> list[SqsDeadLetters]:
    """Every dead-letter queue whose name starts with the settings' prefix."""
    async with aws_client(settings, "sqs") as sqs:
        listed = await sqs.list_queues(QueueNamePrefix=settings.topic_prefix, MaxResults=1000)
        urls: list[str] = listed.get("QueueUrls", [])
        attributes = {
            url: (
                await sqs.get_queue_attributes(
                    QueueUrl=url, AttributeNames=["QueueArn", "RedrivePolicy"]
                )
            )["Attributes"]
            for url in urls
        }
    by_arn = {attrs["QueueArn"]: url for url, attrs in attributes.items()}
    redrives = dead_letter_targets(attributes)
    targets = sorted({redrive.target_arn for redrive in redrives})
    return [
        SqsDeadLetters(
            settings,
            by_arn[arn],
            [redrive for redrive in redrives if redrive.target_arn == arn],
        )
        for arn in targets
        if arn in by_arn
    ]


class SqsDeadLetters:
    def __init__(self, settings: Settings, url: str, sources: list[Redrive]) -> None:
        self.settings = settings
        self.url = url
        self.sources = sources
        self.name = f"sqs/{url.rsplit('/', 1)[-1]}"

    def _client(self) -> Any:
        return aws_client(self.settings, "sqs")

    async def summary(self) -> Summary:
        async with self._client() as sqs:
            attributes = (
                await sqs.get_queue_attributes(
                    QueueUrl=self.url,
                    AttributeNames=[
                        "ApproximateNumberOfMessages",
                        "ApproximateNumberOfMessagesNotVisible",
                    ],
                )
            )["Attributes"]
        count = int(attributes["ApproximateNumberOfMessages"])
        # SQS reports no age of the oldest message through its API (CloudWatch does): look.
        peeked = await self.peek(10) if count else []
        ages = [letter.age_s for letter in peeked if letter.age_s is not None]
        return Summary(self.name, count, max(ages) if ages else None)

    async def _receive(self, sqs: Any, visibility_s: int) -> list[dict[str, Any]]:
        answer = await sqs.receive_message(
            QueueUrl=self.url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=_WAIT_S,
            VisibilityTimeout=visibility_s,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        messages: list[dict[str, Any]] = answer.get("Messages", [])
        return messages

    async def peek(self, limit: int) -> list[DeadLetter]:
        letters: dict[str, DeadLetter] = {}
        async with self._client() as sqs:
            # Visibility 0: looked at, not taken; a second look may see the same ones again.
            for _ in range(max(1, limit // 10 + 1)):
                for message in await self._receive(sqs, 0):
                    letters.setdefault(message["MessageId"], self._dead_letter(message))
                if len(letters) >= limit:
                    break
        ordered = sorted(letters.values(), key=lambda letter: -(letter.age_s or 0))
        return ordered[:limit]

    async def redrive(self) -> int:
        if len(self.sources) != 1:
            raise ValueError(
                f"{self.name} is the dead-letter queue of {len(self.sources)} queues; "
                "which one a message came from is not recorded"
            )
        [source] = self.sources
        moved = 0
        async with self._client() as sqs:
            while messages := await self._receive(sqs, 60):
                for message in messages:
                    attributes = {
                        key: {
                            k: v
                            for k, v in value.items()
                            if k in ("DataType", "StringValue", "BinaryValue")
                        }
                        for key, value in message.get("MessageAttributes", {}).items()
                    }
                    await sqs.send_message(
                        QueueUrl=source.source_url,
                        MessageBody=message["Body"],
                        **({"MessageAttributes": attributes} if attributes else {}),
                    )
                    await sqs.delete_message(
                        QueueUrl=self.url, ReceiptHandle=message["ReceiptHandle"]
                    )
                    moved += 1
        return moved

    async def purge(self) -> int:
        count = (await self.summary()).count
        async with self._client() as sqs:
            await sqs.purge_queue(QueueUrl=self.url)
        return count

    def _dead_letter(self, message: Mapping[str, Any]) -> DeadLetter:
        attributes = message.get("Attributes", {})
        sent_ms = attributes.get("SentTimestamp")
        custom = message.get("MessageAttributes", {}).get(REASON_ATTRIBUTE, {})
        receives = attributes.get("ApproximateReceiveCount", "?")
        limits = ", ".join(str(source.max_receive_count) for source in self.sources)
        reason = custom.get("StringValue") or (
            f"received {receives} times without being deleted (maxReceiveCount {limits})"
        )
        source = attributes.get("DeadLetterQueueSourceArn") or ", ".join(
            s.source_arn for s in self.sources
        )
        return DeadLetter(
            id=str(message["MessageId"]),
            reason=reason,
            source=source,
            body=str(message["Body"]).encode(),
            age_s=None if sent_ms is None else time.time() - int(sent_ms) / 1000,
        )
