"""What SQS and SNS share: the client, built by ``shopstream.aws``, and AWS errors sorted into
refusals and transient failures."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from aiobotocore.config import AioConfig
from botocore.exceptions import BotoCoreError, ClientError

from operators.problems import Problem, Refused, Unavailable
from shopstream.aws import aws_client
from shopstream.settings import Settings

# Error codes that say the request is wrong, so a retry would fail the same way.
_REFUSALS = {
    "InvalidParameterValue",
    "InvalidParameter",
    "InvalidAttributeName",
    "InvalidAttributeValue",
    "InvalidParameterCombination",
    "ValidationError",
    "AuthorizationError",
    "AccessDenied",
    "AccessDeniedException",
}
# kopf retries with its own backoff; botocore's retries would only stretch each attempt.
_CONFIG = AioConfig(retries={"max_attempts": 1}, connect_timeout=5, read_timeout=20)


def problem(error: ClientError | BotoCoreError, what: str) -> Problem:
    if isinstance(error, ClientError):
        code = str(error.response.get("Error", {}).get("Code", "Unknown"))
        message = str(error.response.get("Error", {}).get("Message", error))
        text = f"{what}: {code}: {message}"
        return Refused(code, text) if code in _REFUSALS else Unavailable(code, text)
    return Unavailable("AwsUnavailable", f"{what}: {error}")


@asynccontextmanager
async def client(settings: Settings, service: str, what: str) -> AsyncIterator[Any]:
    """An aiobotocore client whose AWS errors leave as Problems, each saying what failed."""
    try:
        async with aws_client(settings, service, _CONFIG) as aws:
            yield aws
    except (ClientError, BotoCoreError) as error:
        raise problem(error, what) from error


def error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))
