"""SnsTopic and its subscriptions through the SNS API (aioboto3, moto locally)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from operators import specs
from operators.decisions import sns as decisions
from operators.decisions.ownership import Ownership, ownership
from operators.problems import Refused
from operators.reconcilers.aws import client
from operators.reconcilers.base import Context, Outcome

TAGS = [{"Key": "managed-by", "Value": "shopstream-operator"}]


async def find_topic(sns: Any, name: str) -> str | None:
    async for page in sns.get_paginator("list_topics").paginate():
        for topic in page.get("Topics", []):
            arn = str(topic["TopicArn"])
            if arn.rsplit(":", 1)[-1] == name:
                return arn
    return None


async def subscriptions(sns: Any, topic_arn: str) -> list[decisions.Existing]:
    found = []
    async for page in sns.get_paginator("list_subscriptions_by_topic").paginate(TopicArn=topic_arn):
        for sub in page.get("Subscriptions", []):
            arn = str(sub["SubscriptionArn"])
            attributes: dict[str, str] = {}
            if arn != decisions.PENDING:
                answer = await sns.get_subscription_attributes(SubscriptionArn=arn)
                attributes = answer.get("Attributes", {})
            found.append(decisions.Existing(arn, sub["Protocol"], sub["Endpoint"], attributes))
    return found


class SnsTopics:
    kind: ClassVar[str] = "SnsTopic"
    plural: ClassVar[str] = "snstopics"

    async def reconcile(self, context: Context) -> Outcome:
        spec = specs.sns_topic(context.name, context.spec)
        managed = specs.management(context.namespace, context.spec)
        for asked in spec.subscriptions:
            refusal = decisions.endpoint_refusal(
                asked,
                context.settings.operator_sns_protocols,
                context.settings.operator_sns_endpoint_patterns,
            )
            if refusal is not None:
                raise Refused("EndpointNotAllowed", refusal)
        wanted = [
            decisions.Wanted(
                sub.name,
                sub.protocol,
                sub.endpoint
                if sub.endpoint is not None
                else await context.referenced_status("sqsqueues", str(sub.queue), "queueArn"),
                decisions.subscription_attributes(sub),
            )
            for sub in spec.subscriptions
        ]
        recorded = {
            str(sub["name"]): str(sub["arn"])
            for sub in context.status.get("subscriptions") or []
            if sub.get("arn")
        }
        settings = await context.aws_settings(managed.connection)
        claim = f"topic:{spec.topic_name}"
        changes: list[str] = []
        async with client(settings, "sns", f"topic {spec.topic_name}") as sns:
            arn = await find_topic(sns, spec.topic_name)
            owner = ownership(
                f"SNS topic {spec.topic_name}",
                arn is not None,
                claim in context.claimed,
                managed.adopt,
            )
            if owner is not Ownership.OWNED:
                await context.claim(claim, adopted=owner is Ownership.ADOPT)
            if arn is None:
                attributes = {"FifoTopic": "true"} if spec.fifo else {}
                created = await sns.create_topic(
                    Name=spec.topic_name, Attributes=attributes, Tags=TAGS
                )
                arn = str(created["TopicArn"])
                changes.append(f"created topic {spec.topic_name}")
            existing = await subscriptions(sns, arn)
            actions = decisions.plan_subscriptions(wanted, existing, recorded)
            made: dict[str, str] = {}
            for action in actions:
                match action:
                    case decisions.Subscribe(sub):
                        answer = await sns.subscribe(
                            TopicArn=arn,
                            Protocol=sub.protocol,
                            Endpoint=sub.endpoint,
                            Attributes=dict(sub.attributes),
                            ReturnSubscriptionArn=True,
                        )
                        made[sub.name] = str(answer["SubscriptionArn"])
                    case decisions.SetSubscriptionAttribute(_, sub_arn, key, value):
                        await sns.set_subscription_attributes(
                            SubscriptionArn=sub_arn, AttributeName=key, AttributeValue=value
                        )
                    case decisions.Unsubscribe(_, sub_arn):
                        await sns.unsubscribe(SubscriptionArn=sub_arn)
            changes.extend(action.describe() for action in actions)
        by_target = {(sub.protocol, sub.endpoint): sub.arn for sub in existing}
        status_subscriptions = [
            {
                "name": sub.name,
                "endpoint": sub.endpoint,
                "arn": made.get(sub.name) or by_target.get((sub.protocol, sub.endpoint), ""),
            }
            for sub in wanted
        ]
        return Outcome(
            status={"topicArn": arn, "subscriptions": status_subscriptions},
            changes=changes,
            message=f"topic {spec.topic_name} with {len(wanted)} subscriptions is as specified",
        )

    async def delete(self, context: Context) -> Sequence[str]:
        spec = specs.sns_topic(context.name, context.spec)
        managed = specs.management(context.namespace, context.spec)
        if f"topic:{spec.topic_name}" not in context.claimed:
            return []
        settings = await context.aws_settings(managed.connection)
        async with client(settings, "sns", f"deleting topic {spec.topic_name}") as sns:
            arn = await find_topic(sns, spec.topic_name)
            if arn is None:
                return []
            # SNS drops a deleted topic's subscriptions itself; ours go first all the same,
            # so that none outlives the topic anywhere that does not.
            for sub in context.status.get("subscriptions") or []:
                if sub.get("arn") and sub["arn"] != decisions.PENDING:
                    await sns.unsubscribe(SubscriptionArn=sub["arn"])
            await sns.delete_topic(TopicArn=arn)
        return [f"deleted topic {spec.topic_name}"]
