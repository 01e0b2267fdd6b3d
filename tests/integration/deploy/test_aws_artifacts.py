"""The AWS pieces a platform engineer applies around EKS (deploy/aws/, `make lambda`), each
current with the code and accepted by the AWS APIs (moto) that would take it."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

from ops import apigateway, cloudwatch
from shopstream.aws import aws_client
from shopstream.settings import REPO_ROOT, Settings, get_settings
from streams.adapters.payment_package import HANDLER
from streams.contract import Channel
from tests.unit.adapters.test_payment_package import LAMBDA_RUNTIME

AWS = REPO_ROOT / "deploy" / "aws"


def _json(path: Path) -> Any:
    return json.loads(path.read_text())


async def test_every_iam_policy_is_a_valid_policy_document(
    stack_settings: Settings, unique: str
) -> None:
    async with aws_client(stack_settings, "iam") as iam:
        for path in sorted((AWS / "iam").glob("*.json")):
            created = await iam.create_policy(
                PolicyName=f"shopstream-{path.stem}-{unique}", PolicyDocument=path.read_text()
            )
            await iam.delete_policy(PolicyArn=created["Policy"]["Arn"])


def test_the_api_gateway_import_is_current(tmp_path: Path) -> None:
    written = apigateway.write(tmp_path, apigateway.gateway_document())
    for path in written:
        assert path.read_text() == (AWS / "apigateway" / path.name).read_text(), (
            "regenerate it: make aws"
        )


def test_every_operation_of_the_gateway_is_exported_with_its_integration() -> None:
    # The live streams (/live/...) are not in the document: API Gateway's 29 s would cut them.
    document = apigateway.gateway_document()
    exported = _json(AWS / "apigateway" / "openapi.json")
    wanted = {(path, method) for path, item in document["paths"].items() for method in item}
    found = {(path, method) for path, item in exported["paths"].items() for method in item}
    assert found == wanted
    for path, item in exported["paths"].items():
        for method, operation in item.items():
            integration = operation["x-amazon-apigateway-integration"]
            assert integration["type"] == "http_proxy"
            assert integration["connectionType"] == "VPC_LINK"
            assert integration["httpMethod"] == method.upper()
            assert integration["uri"].endswith(path)


async def test_api_gateway_imports_the_api_and_throttles_its_stage(
    stack_settings: Settings, unique: str
) -> None:
    async with aws_client(stack_settings, "apigateway") as gateway:
        body = (AWS / "apigateway" / "openapi.json").read_bytes()
        api = await gateway.import_rest_api(body=body, failOnWarnings=True)
        try:
            resources = (await gateway.get_resources(restApiId=api["id"], limit=500))["items"]
            order = next(r for r in resources if r["path"] == "/orders/{order_id}")
            integration = await gateway.get_integration(
                restApiId=api["id"], resourceId=order["id"], httpMethod="GET"
            )
            assert integration["uri"] == "http://${stageVariables.gatewayHost}/orders/{order_id}"
            assert integration["requestParameters"] == {
                "integration.request.path.order_id": "method.request.path.order_id"
            }
            await gateway.create_deployment(restApiId=api["id"], stageName=f"s{unique}")
            await gateway.update_stage(
                restApiId=api["id"],
                stageName=f"s{unique}",
                patchOperations=_json(AWS / "apigateway" / "stage-throttling.json"),
            )
            stage = await gateway.get_stage(restApiId=api["id"], stageName=f"s{unique}")
        finally:
            await gateway.delete_rest_api(restApiId=api["id"])
    settings = stage["methodSettings"]
    assert settings["*/*"]["throttlingRateLimit"] == apigateway.DEFAULT_RATE
    assert settings["~1auth~1login/POST"]["throttlingBurstLimit"] == 40


def test_the_alarms_are_current() -> None:
    current = cloudwatch.alarms(get_settings(), "shopstream")
    assert current == _json(AWS / "cloudwatch" / "alarms.json"), "regenerate them: make aws"


def test_every_dead_letter_queue_and_every_consumed_topic_has_an_alarm() -> None:
    alarms = _json(AWS / "cloudwatch" / "alarms.json")
    queues = {a["Dimensions"][0]["Value"] for a in alarms if a["Namespace"] == "AWS/SQS"}
    assert queues == {f"shopstream-notifications-{channel.value}-dlq" for channel in Channel}
    logged = {a["Dimensions"][0]["Value"] for a in alarms if a["Namespace"] == "shopstream"}
    assert logged == {"kafka/shopstream.dead-letters", "amqp/carrier.dead-letters"}
    lagging = {
        (a["Dimensions"][1]["Value"], a["Dimensions"][2]["Value"])
        for a in alarms
        if a["Namespace"] == "AWS/Kafka"
    }
    assert ("shopstream", "orders.events") in lagging
    # The projector follows the saga's tables through their changelogs; the saga never reads them.
    assert ("shopstream-notifications-projections", "shopstream-orders-changelog") in lagging
    assert ("shopstream", "shopstream-orders-changelog") not in lagging


async def test_cloudwatch_takes_every_alarm(stack_settings: Settings, unique: str) -> None:
    alarms = _json(AWS / "cloudwatch" / "alarms.json")
    names = [f"{alarm['AlarmName']}-{unique}" for alarm in alarms]
    async with aws_client(stack_settings, "cloudwatch") as watch:
        for alarm, name in zip(alarms, names, strict=True):
            await watch.put_metric_alarm(**{**alarm, "AlarmName": name})
        described = await watch.describe_alarms(AlarmNames=names)
        await watch.delete_alarms(AlarmNames=names)
    assert sorted(a["AlarmName"] for a in described["MetricAlarms"]) == sorted(names)


@pytest.fixture(scope="module")
def lambda_zip() -> Path:
    built = subprocess.run(
        ["make", "-s", "lambda"], cwd=REPO_ROOT, capture_output=True, text=True, check=False
    )
    assert built.returncode == 0, built.stderr
    return REPO_ROOT / built.stdout.strip().splitlines()[-1]


def test_make_lambda_builds_a_zip_whose_handler_answers_on_its_own(
    lambda_zip: Path, tmp_path: Path
) -> None:
    with zipfile.ZipFile(lambda_zip) as archive:
        archive.extractall(tmp_path)  # what Lambda does, into /var/task
        assert "stripe/__init__.py" in archive.namelist()  # `make lambda` builds for Stripe too
    # Lambda's runtime, as the package's own tests play it: -I -S, only the zip and stdlib.
    ran = subprocess.run(
        [sys.executable, "-I", "-S", "-c", LAMBDA_RUNTIME, HANDLER],
        cwd=tmp_path,
        env={"PAYMENT_PROVIDER": "simulated"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert ran.returncode == 0, ran.stderr
    answers = json.loads(ran.stdout)
    assert answers["charged"]["status"] == "succeeded"
    assert answers["declined"]["code"] == "card_declined"
    assert answers["site"] == []
