"""The gateway refuses to start with a signing key anyone could know, saying what to do."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from shopstream.settings import Settings
from stack.environment import local_env
from streams.testing import free_port


def _start(**overrides: str | None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SHOPSTREAM_PORTS__GATEWAY": str(free_port())}
    env.pop("SHOPSTREAM_JWT_SECRET", None)
    for name, value in overrides.items():
        env.pop(name, None)
        if value is not None:
            env[name] = value
    return subprocess.run(
        [sys.executable, "-m", "api"], env=env, capture_output=True, text=True, timeout=60
    )


def test_an_unset_environment_fails_closed_on_the_committed_signing_key() -> None:
    refused = _start(SHOPSTREAM_ENVIRONMENT=None)
    assert refused.returncode != 0
    assert (
        refused.stderr.strip()
        .splitlines()[-1]
        .startswith(
            "gateway not started: SHOPSTREAM_JWT_SECRET is the committed local default in an "
            "unset environment"
        )
    )


@pytest.mark.parametrize("environment", ["local", "production"])
def test_a_signing_key_under_32_bytes_is_refused_at_startup(environment: str) -> None:
    refused = _start(SHOPSTREAM_ENVIRONMENT=environment, SHOPSTREAM_JWT_SECRET="too-short")
    assert refused.returncode != 0
    assert "9 bytes long; it must be at least 32 bytes" in refused.stderr


def test_the_local_stack_runs_its_processes_as_the_local_environment(
    stack_settings: Settings,
) -> None:
    # What lets `make run` and the tests' gateways start with the local key.
    assert local_env(stack_settings)["SHOPSTREAM_ENVIRONMENT"] == "local"
    assert stack_settings.environment == "local"
