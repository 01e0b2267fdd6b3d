from __future__ import annotations

import json

from boto3.dynamodb.conditions import Key

from shopstream.aws import aws_client, aws_resource
from shopstream.settings import Settings


async def test_sns_topic_fans_out_to_a_subscribed_sqs_queue(
    stack_settings: Settings, unique: str
) -> None:
    async with aws_client(stack_settings, "sns") as sns, aws_client(stack_settings, "sqs") as sqs:
        topic_arn = (await sns.create_topic(Name=f"plumbing-{unique}"))["TopicArn"]
        queue_url = (await sqs.create_queue(QueueName=f"plumbing-{unique}"))["QueueUrl"]
        queue_arn = (
            await sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])
        )["Attributes"]["QueueArn"]
        await sns.subscribe(
            TopicArn=topic_arn,
            Protocol="sqs",
            Endpoint=queue_arn,
            Attributes={"RawMessageDelivery": "true"},
        )
        await sns.publish(TopicArn=topic_arn, Message=json.dumps({"order_id": unique}))
        received = await sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=1, WaitTimeSeconds=5
        )
        await sns.delete_topic(TopicArn=topic_arn)
        await sqs.delete_queue(QueueUrl=queue_url)
    [message] = received["Messages"]
    assert json.loads(message["Body"]) == {"order_id": unique}


async def test_dynamodb_query_returns_an_orders_items_in_sort_key_order(
    stack_settings: Settings, unique: str
) -> None:
    async with aws_resource(stack_settings, "dynamodb") as dynamodb:
        table = await dynamodb.create_table(
            TableName=f"plumbing-{unique}",
            KeySchema=[
                {"AttributeName": "order_id", "KeyType": "HASH"},
                {"AttributeName": "seq", "KeyType": "RANGE"},
            ],
            AttributeDefinitions=[
                {"AttributeName": "order_id", "AttributeType": "S"},
                {"AttributeName": "seq", "AttributeType": "N"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        await table.wait_until_exists()
        for seq, event in [(2, "paid"), (1, "placed"), (3, "shipped")]:
            await table.put_item(Item={"order_id": unique, "seq": seq, "event": event})
        await table.put_item(Item={"order_id": "someone-else", "seq": 1, "event": "placed"})
        result = await table.query(KeyConditionExpression=Key("order_id").eq(unique))
        await table.delete()
    assert [item["event"] for item in result["Items"]] == ["placed", "paid", "shipped"]
