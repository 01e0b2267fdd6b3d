"""The container image, built here without a daemon (`make image`: buildah on a Debian base
made with mmdebstrap), and its gateway run with podman against the local stack.

The container shares the host's network (the stack listens on loopback). podman runs it with
runc and with the host's own limits on open files and processes: crun refuses this machine's
hybrid cgroup layout, and a container may not raise limits without CAP_SYS_RESOURCE (podman's
defaults are higher).
"""

from __future__ import annotations

import asyncio
import resource
import shutil
import subprocess
import uuid
from collections.abc import Iterator

import httpx
import pytest

from shopstream.settings import REPO_ROOT, Settings
from stack.environment import LOCAL_AWS_CREDENTIALS
from stack.process import port_is_free
from tests.integration.deploy.conftest import IMAGE_BUILD_TIMEOUT_S
from tests.integration.polling import eventually

# Processes per user in the container: plenty for one process, and below the host's own limit
# (runc may not set the host's limit itself, counted against the user the host shares).
NPROC = 8192


def _podman_run() -> list[str]:
    nofile = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    nproc = min(resource.getrlimit(resource.RLIMIT_NPROC)[1], NPROC)
    return [
        "podman", "--runtime", "runc", "run", "--network", "host", "--read-only",
        f"--ulimit=nofile={nofile}:{nofile}", f"--ulimit=nproc={nproc}:{nproc}",
    ]  # fmt: skip


@pytest.fixture(scope="module")
def image() -> str:
    if shutil.which("buildah") is None or shutil.which("mmdebstrap") is None:
        pytest.skip("this machine cannot build the image: buildah or mmdebstrap is missing")
    result = subprocess.run(
        [str(REPO_ROOT / "deploy" / "image" / "build-image.sh")],
        capture_output=True,
        text=True,
        timeout=IMAGE_BUILD_TIMEOUT_S,
    )
    assert result.returncode == 0, f"make image failed:\n{result.stderr[-3000:]}"
    return result.stdout.strip()


def _free_port() -> int:
    for port in range(26900, 26999):
        if port_is_free(port):
            return port
    raise AssertionError("no free port in 26900-26999")


@pytest.fixture
def gateway_container(image: str, stack_settings: Settings) -> Iterator[tuple[str, int]]:
    port = _free_port()
    name = f"shopstream-test-{uuid.uuid4().hex[:8]}"
    environment = {
        **LOCAL_AWS_CREDENTIALS,
        "SHOPSTREAM_ENVIRONMENT": "local",
        "SHOPSTREAM_GATEWAY_HOST": "127.0.0.1",
        "SHOPSTREAM_PORTS__GATEWAY": str(port),
        "SHOPSTREAM_AWS_ENDPOINT_URL": stack_settings.aws_endpoint_url or "",
        "SHOPSTREAM_AWS_REGION": stack_settings.aws_region,
        "SHOPSTREAM_KAFKA_BOOTSTRAP_SERVERS": stack_settings.kafka_bootstrap_servers,
        "SHOPSTREAM_DATABASE_URL": stack_settings.database_url.get_secret_value(),
        "SHOPSTREAM_AMQP_URL": stack_settings.amqp_url.get_secret_value(),
        "SHOPSTREAM_TOPIC_PREFIX": stack_settings.topic_prefix,
    }
    env_flags = [f"--env={key}={value}" for key, value in environment.items()]
    subprocess.run(
        [*_podman_run(), "--detach", "--name", name, *env_flags, image, "gateway"],
        check=True,
        capture_output=True,
    )
    try:
        yield name, port
    finally:
        subprocess.run(["podman", "rm", "--force", "--time", "5", name], capture_output=True)


def _logs(name: str) -> str:
    result = subprocess.run(["podman", "logs", name], capture_output=True, text=True)
    return (result.stdout + result.stderr)[-3000:]


async def test_the_images_gateway_becomes_ready_against_the_stack(
    gateway_container: tuple[str, int],
) -> None:
    name, port = gateway_container

    async def ready() -> dict[str, object] | None:
        try:
            async with httpx.AsyncClient(timeout=5) as client:
                response = await client.get(f"http://127.0.0.1:{port}/readyz")
        except httpx.TransportError:
            return None
        return response.json() if response.status_code == 200 else None

    body = await eventually(ready, "the image's gateway /readyz", 90, lambda: _logs(name))
    assert body
    await asyncio.sleep(0)


def test_the_image_runs_as_an_unprivileged_user(image: str) -> None:
    result = subprocess.run(
        [*_podman_run(), "--rm", "--entrypoint", "id", image],
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.startswith("uid=10001(shopstream) gid=10001(shopstream)")


def test_the_image_refuses_an_unknown_role_with_the_known_ones(image: str) -> None:
    result = subprocess.run([*_podman_run(), "--rm", image, "web"], capture_output=True, text=True)
    assert result.returncode == 2
    assert "unknown role 'web'; known: gateway, worker, projector" in result.stderr
