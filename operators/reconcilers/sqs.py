"""SqsQueue through the SQS API (aioboto3, moto locally)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from botocore.exceptions import ClientError

from operators import specs
from operators.decisions import sqs as decisions
from operators.decisions.ownership import Ownership, ownership
from operators.problems import Refused
from operators.reconcilers.aws import client, error_code
from operators.reconcilers.base import Context, Outcome

MISSING = {"AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"}
TAGS = {"managed-by": "shopstream-operator"}


async def queue_url(sqs: Any, name: str) -> str | None:
    try:
        return str((await sqs.get_queue_url(QueueName=name))["QueueUrl"])
    except ClientError as error:
        if error_code(error) in MISSING:
            return None
        raise


class SqsQueues:
    kind: ClassVar[str] = "SqsQueue"
    plural: ClassVar[str] = "sqsqueues"

    async def reconcile(self, context: Context) -> Outcome:
        spec = specs.sqs_queue(context.name, context.spec)
        managed = specs.management(context.namespace, context.spec)
        dead_letter_arn = None
        if spec.dead_letter is not None:
            target = await context.kube.resource(
                self.plural, context.namespace, spec.dead_letter.queue
            )
            if target is not None and bool(target["spec"].get("fifo", False)) != spec.fifo:
                raise Refused(
                    "DeadLetterTypeMismatch",
                    f"dead-letter queue {spec.dead_letter.queue} must be "
                    f"{'a FIFO' if spec.fifo else 'a standard'} queue like this one",
                )
            dead_letter_arn = await context.referenced_status(
                self.plural, spec.dead_letter.queue, "queueArn"
            )
        attributes = decisions.desired_attributes(spec, dead_letter_arn)
        settings = await context.aws_settings(managed.connection)
        claim = f"queue:{spec.queue_name}"
        async with client(settings, "sqs", f"queue {spec.queue_name}") as sqs:
            url = await queue_url(sqs, spec.queue_name)
            actual = None
            if url is not None:
                answer = await sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])
                actual = answer.get("Attributes", {})
            owner = ownership(
                f"SQS queue {spec.queue_name}",
                url is not None,
                claim in context.claimed,
                managed.adopt,
            )
            actions = decisions.plan(spec, attributes, actual)
            if owner is not Ownership.OWNED:
                await context.claim(claim, adopted=owner is Ownership.ADOPT)
            for action in actions:
                match action:
                    case decisions.CreateQueue(name, create):
                        tags = {**TAGS, "resource": f"{context.namespace}.{context.name}"}
                        created = await sqs.create_queue(
                            QueueName=name, Attributes=dict(create), tags=tags
                        )
                        url = str(created["QueueUrl"])
                    case decisions.SetAttributes(_, changed):
                        await sqs.set_queue_attributes(QueueUrl=url, Attributes=dict(changed))
            arn = (await sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"]))[
                "Attributes"
            ]["QueueArn"]
        return Outcome(
            status={"queueUrl": url, "queueArn": arn},
            changes=[action.describe() for action in actions],
            message=f"queue {spec.queue_name} is as specified",
        )

    async def delete(self, context: Context) -> Sequence[str]:
        spec = specs.sqs_queue(context.name, context.spec)
        managed = specs.management(context.namespace, context.spec)
        if f"queue:{spec.queue_name}" not in context.claimed:
            return []
        settings = await context.aws_settings(managed.connection)
        async with client(settings, "sqs", f"deleting queue {spec.queue_name}") as sqs:
            url = await queue_url(sqs, spec.queue_name)
            if url is None:
                return []
            await sqs.delete_queue(QueueUrl=url)
        return [f"deleted queue {spec.queue_name}"]
