"""AWS clients built from settings: moto's endpoint locally, AWS's own when none is set."""

from __future__ import annotations

from typing import Any

import aioboto3
from aiobotocore.config import AioConfig as Config

from shopstream.settings import Settings

_session = aioboto3.Session()


def aws_client(settings: Settings, service: str, config: Config | None = None) -> Any:
    """An async context manager yielding an aiobotocore client for ``service``.

    ``config`` is botocore's: callers with their own retry policy turn botocore's off there.
    """
    return _session.client(
        service,
        region_name=settings.aws_region,
        endpoint_url=settings.aws_endpoint_url,
        config=config,
    )


def aws_resource(settings: Settings, service: str) -> Any:
    return _session.resource(
        service, region_name=settings.aws_region, endpoint_url=settings.aws_endpoint_url
    )
