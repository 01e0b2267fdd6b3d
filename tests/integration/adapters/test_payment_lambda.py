"""The payment function on Lambda's API (moto server) and AwsLambdaInvoker against it.

moto runs a function's code only inside Docker, which this machine does not have: its Invoke
then answers ``FunctionError: Handled`` with the text "error running docker: ...". So what is
exercised for real here is deployment (create, read back, update) of the zip that
``build_package`` writes, and the invoker's paths for a Lambda that answers with an error, for
a function that does not exist and for an endpoint that does not answer. The function's own
answers are covered in-process (tests/unit/adapters), including the zip run in a fresh
interpreter the way Lambda's runtime loads it.

The functions live on a moto server of this module's own: moto keeps every model it ever made
for its dashboard document (``/moto-api/data.json``), and a Lambda function's model cannot be
shown there without Docker, so once one exists that document fails for every other test that
reads it (the SMS checks do).
"""

import contextlib
import json
import math
import socket
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from tenacity import wait_none

from shopstream.aws import aws_client
from shopstream.settings import Settings
from stack import control
from stack.moto_part import Moto
from streams.adapters.payment_invoker import (
    AwsLambdaInvoker,
    PaymentInvokeError,
    PaymentUnavailable,
)
from streams.adapters.payment_package import (
    HANDLER,
    RUNTIME,
    build_package,
    code_sha256,
    deploy_function,
    function_environment,
    lambda_architecture,
)
from streams.contract import PaymentRequested
from streams.domain.payments import idempotency_key

ROLE = "shopstream-payment-function-test"
MAX_ATTEMPTS = 3
TRUST_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "lambda.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}


@pytest.fixture(scope="module")
async def lambda_settings(
    stack_settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Settings]:
    """The stack's settings, with AWS APIs on a moto server started for this module."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = stack_settings.model_copy(
        update={
            "ports": stack_settings.ports.model_copy(update={"moto": port}),
            "state_dir": tmp_path_factory.mktemp("lambda-stack"),
            "aws_endpoint_url": f"http://127.0.0.1:{port}",
        }
    )
    moto = Moto(settings)
    await control.up(settings, [moto], lambda message: None)
    yield settings
    moto.stop()


@pytest.fixture(scope="module")
def package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_package(tmp_path_factory.mktemp("package"))


@pytest.fixture(scope="module")
def package_bytes(package: Path) -> bytes:
    return package.read_bytes()


@pytest.fixture
async def role_arn(lambda_settings: Settings) -> str:
    # moto, like Lambda, refuses a function whose role it does not know.
    async with aws_client(lambda_settings, "iam") as iam:
        try:
            role = await iam.get_role(RoleName=ROLE)
        except iam.exceptions.NoSuchEntityException:
            role = await iam.create_role(
                RoleName=ROLE, AssumeRolePolicyDocument=json.dumps(TRUST_POLICY)
            )
    arn: str = role["Role"]["Arn"]
    return arn


@pytest.fixture
async def bucket(lambda_settings: Settings, unique: str) -> AsyncIterator[str]:
    name = f"shopstream-artifacts-{unique}"
    async with aws_client(lambda_settings, "s3") as s3:
        await s3.create_bucket(Bucket=name)
        yield name
        for item in (await s3.list_objects_v2(Bucket=name)).get("Contents", []):
            await s3.delete_object(Bucket=name, Key=item["Key"])
        await s3.delete_bucket(Bucket=name)


@pytest.fixture
async def settings(lambda_settings: Settings, unique: str) -> AsyncIterator[Settings]:
    settings = lambda_settings.model_copy(
        update={
            "payment_function_name": f"shopstream-payment-{unique}",
            "payment_max_attempts": MAX_ATTEMPTS,
            "payment_invoker": "aws",
        }
    )
    yield settings
    async with aws_client(settings, "lambda") as client:
        with contextlib.suppress(client.exceptions.ResourceNotFoundException):
            await client.delete_function(FunctionName=settings.payment_function_name)


def command(order_id: str) -> PaymentRequested:
    return PaymentRequested(
        order_id=order_id, amount_cents=4500, currency="EUR", payment_token="tok_visa", attempt=1
    )


async def invocations(settings: Settings) -> int:
    """How often moto ran (tried to run) the function: it logs each invoke to a new stream."""
    async with aws_client(settings, "logs") as logs:
        try:
            streams = await logs.describe_log_streams(
                logGroupName=f"/aws/lambda/{settings.payment_function_name}"
            )
        except logs.exceptions.ResourceNotFoundException:
            return 0
    return len(streams["logStreams"])


async def test_the_package_deploys_to_lambda_as_built(
    settings: Settings, package: Path, package_bytes: bytes, role_arn: str, bucket: str
) -> None:
    arn = await deploy_function(settings, package, role_arn=role_arn, bucket=bucket)
    async with aws_client(settings, "lambda") as client:
        function = await client.get_function(FunctionName=settings.payment_function_name)
    configuration = function["Configuration"]
    assert configuration["FunctionArn"] == arn
    assert configuration["State"] == "Active"
    assert (configuration["Runtime"], configuration["Handler"]) == (RUNTIME, HANDLER)
    assert configuration["Architectures"] == [lambda_architecture()]
    assert configuration["CodeSha256"] == code_sha256(package)
    assert configuration["CodeSize"] == len(package_bytes)
    assert configuration["Timeout"] == math.ceil(settings.payment_timeout_s)
    assert configuration["Environment"]["Variables"] == function_environment(settings)
    assert configuration["Environment"]["Variables"]["PAYMENT_PROVIDER"] == "simulated"


async def test_deploying_again_updates_the_function_in_place(
    settings: Settings, package: Path, role_arn: str, bucket: str
) -> None:
    first = await deploy_function(settings, package, role_arn=role_arn, bucket=bucket)
    slower = settings.model_copy(update={"payment_timeout_s": 25.0})
    again = await deploy_function(slower, package, role_arn=role_arn, bucket=bucket)
    async with aws_client(settings, "lambda") as client:
        configuration = await client.get_function_configuration(
            FunctionName=settings.payment_function_name
        )
    assert again == first
    assert configuration["Timeout"] == 25
    assert configuration["CodeSha256"] == code_sha256(package)


async def test_a_lambda_answering_a_function_error_is_asked_again_then_unavailable(
    settings: Settings, package: Path, role_arn: str, bucket: str, unique: str
) -> None:
    await deploy_function(settings, package, role_arn=role_arn, bucket=bucket)
    invoker = AwsLambdaInvoker(settings, wait=wait_none())
    request = command(f"ord-{unique}")
    with pytest.raises(PaymentUnavailable) as raised:
        await invoker.charge(request, idempotency_key(request.order_id, request.attempt))
    assert raised.value.error is not None
    assert raised.value.error.error_message  # moto's "error running docker: ..."
    assert await invocations(settings) == MAX_ATTEMPTS


async def test_a_function_never_deployed_is_a_misconfiguration_raised_at_once(
    settings: Settings, unique: str
) -> None:
    invoker = AwsLambdaInvoker(settings, wait=wait_none())
    with pytest.raises(PaymentInvokeError, match="ResourceNotFoundException") as raised:
        await invoker.charge(command(f"ord-{unique}"), "k")
    assert not isinstance(raised.value, PaymentUnavailable)


async def test_an_unreachable_lambda_endpoint_is_retried_then_unavailable(
    settings: Settings, unique: str
) -> None:
    with socket.socket() as probe:  # a loopback port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    nowhere = settings.model_copy(
        update={"aws_endpoint_url": f"http://127.0.0.1:{port}", "payment_max_attempts": 2}
    )
    invoker = AwsLambdaInvoker(nowhere, wait=wait_none())
    started = time.monotonic()
    with pytest.raises(PaymentUnavailable, match="unreachable"):
        await invoker.charge(command(f"ord-{unique}"), "k")
    assert time.monotonic() - started < 5
