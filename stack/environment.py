"""How a process finds the local stack: the environment the stack hands to apps and tests."""

from __future__ import annotations

import os

from shopstream.settings import Settings
from stack.moto_part import Moto

# What the stack's processes say they run in: the one place the local signing key is accepted.
LOCAL_ENVIRONMENT = "local"
# moto accepts any credentials; boto insists on having some.
LOCAL_AWS_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


def local_settings(settings: Settings) -> Settings:
    """The settings as seen by processes that talk to this stack (AWS APIs on moto)."""
    return settings.model_copy(
        update={
            "aws_endpoint_url": Moto(settings).endpoint_url,
            "environment": settings.environment or LOCAL_ENVIRONMENT,
        }
    )


def local_env(settings: Settings) -> dict[str, str]:
    """Environment for a process (the apps, the tests) that should use this stack."""
    return {
        **LOCAL_AWS_CREDENTIALS,
        "AWS_DEFAULT_REGION": settings.aws_region,
        "SHOPSTREAM_AWS_ENDPOINT_URL": Moto(settings).endpoint_url,
        "SHOPSTREAM_ENVIRONMENT": settings.environment or LOCAL_ENVIRONMENT,
        "SHOPSTREAM_STATE_DIR": str(settings.state_dir),
    }


def use_local_stack(settings: Settings) -> Settings:
    """Point this process at the local stack and return its settings."""
    for name, value in local_env(settings).items():
        os.environ.setdefault(name, value)
    return local_settings(settings)
