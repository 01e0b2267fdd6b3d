"""Outside the local environment nothing points at the local AWS stand-in: the ops command line
and the long-running processes take AWS's own endpoint resolution and the default credential
chain, which in EKS is the pod's IAM role through its ServiceAccount (IRSA).

IRSA is played for real: the processes get what EKS injects into a pod (``AWS_ROLE_ARN``,
``AWS_WEB_IDENTITY_TOKEN_FILE``) and AWS's own ``AWS_ENDPOINT_URL`` pointing at a relay in
front of the moto server. The relay notes who signed each call: the credentials must be the
role's temporary ones from STS AssumeRoleWithWebIdentity, never the stack's placeholder keys.
"""

from __future__ import annotations

import asyncio
import os
import re
import secrets
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from aiohttp import web

from shopstream.settings import REPO_ROOT, Settings
from stack.environment import LOCAL_AWS_CREDENTIALS
from stack.process import port_is_free
from tests.integration.polling import eventually

ROLE_ARN = "arn:aws:iam::123456789012:role/shopstream-dlq-watch"
SIGNED = re.compile(r"Credential=([^/]+)/[^/]+/[^/]+/([^/]+)/aws4_request")
# Hop-by-hop and length headers the relay recomputes.
NOT_RELAYED = {"host", "content-length", "transfer-encoding", "connection", "content-encoding"}


@dataclass
class Call:
    key_id: str  # empty when unsigned (AssumeRoleWithWebIdentity is)
    service: str
    action: str


@dataclass
class Relay:
    url: str
    calls: list[Call] = field(default_factory=list)

    def signed(self) -> list[Call]:
        return [call for call in self.calls if call.key_id]

    def web_identity_calls(self) -> list[Call]:
        return [call for call in self.calls if call.action == "AssumeRoleWithWebIdentity"]


def _free_ports(count: int) -> list[int]:
    ports = [port for port in range(26950, 26999) if port_is_free(port)]
    assert len(ports) >= count, "no free ports in 26950-26999"
    return ports[:count]


@pytest.fixture
async def relay(stack_settings: Settings) -> AsyncIterator[Relay]:
    assert stack_settings.aws_endpoint_url
    upstream = stack_settings.aws_endpoint_url
    port = _free_ports(1)[0]
    found = Relay(f"http://127.0.0.1:{port}")
    client = httpx.AsyncClient(timeout=30)

    async def forward(request: web.Request) -> web.Response:
        body = await request.read()
        signed = SIGNED.search(request.headers.get("Authorization", ""))
        target = request.headers.get("X-Amz-Target", "")
        action = re.search(r"Action=(\w+)", body.decode(errors="replace") + request.query_string)
        found.calls.append(
            Call(
                key_id=signed[1] if signed else "",
                service=signed[2] if signed else "",
                action=target.rsplit(".", 1)[-1] or (action[1] if action else ""),
            )
        )
        headers = {k: v for k, v in request.headers.items() if k.lower() not in NOT_RELAYED}
        answer = await client.request(
            request.method, upstream + request.path_qs, content=body, headers=headers
        )
        relayed = {k: v for k, v in answer.headers.items() if k.lower() not in NOT_RELAYED}
        return web.Response(status=answer.status_code, body=answer.content, headers=relayed)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", forward)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield found
    await runner.cleanup()
    await client.aclose()


def _production_env(stack_settings: Settings, tmp_path: Path) -> dict[str, str]:
    """A pod's environment in EKS, minus the AWS endpoint: no keys, no endpoint of ours."""
    inherited = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("AWS_", "SHOPSTREAM_"))
    }
    return {
        **inherited,
        "SHOPSTREAM_ENVIRONMENT": "production",
        "SHOPSTREAM_STATE_DIR": str(tmp_path / "state"),
        "SHOPSTREAM_JWT_SECRET": secrets.token_urlsafe(48),
        "SHOPSTREAM_AWS_REGION": stack_settings.aws_region,
        "AWS_REGION": stack_settings.aws_region,
        # Nothing from the instance metadata service here (it is not AWS).
        "AWS_EC2_METADATA_DISABLED": "true",
    }


def _irsa_env(relay: Relay, tmp_path: Path) -> dict[str, str]:
    """What EKS injects into a pod whose ServiceAccount names a role, and AWS's own endpoint
    override (not a setting of ours) aimed at the relay."""
    token = tmp_path / "token"
    token.write_text("eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQifQ.c2ln")
    return {
        "AWS_ROLE_ARN": ROLE_ARN,
        "AWS_WEB_IDENTITY_TOKEN_FILE": str(token),
        "AWS_ENDPOINT_URL": relay.url,
    }


async def _run(argv: list[str], env: dict[str, str]) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        *argv,
        env=env,
        cwd=REPO_ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), timeout=120)
    return process.returncode or 0, output.decode(errors="replace")


def _assert_the_role_signed(relay: Relay, service: str) -> None:
    assert relay.web_identity_calls(), f"no AssumeRoleWithWebIdentity among {relay.calls}"
    signed = relay.signed()
    assert signed and {call.service for call in signed} >= {service}
    keys = {call.key_id for call in signed}
    # STS's temporary credentials (ASIA...), the role's; never the stack's placeholders.
    assert all(key.startswith("ASIA") for key in keys), keys
    assert LOCAL_AWS_CREDENTIALS["AWS_ACCESS_KEY_ID"] not in keys


async def test_the_ops_cli_in_production_never_reaches_for_the_local_stand_in(
    stack_settings: Settings, tmp_path: Path
) -> None:
    env = _production_env(stack_settings, tmp_path)
    code, output = await _run([sys.executable, "-m", "ops.cli", "dlq", "list"], env)
    # No credentials anywhere in the chain: refused, where it once took moto's placeholders.
    assert code != 0
    assert "Unable to locate credentials" in output, output[-2000:]


async def test_the_ops_cli_in_production_signs_with_the_pods_role(
    stack_settings: Settings, relay: Relay, tmp_path: Path
) -> None:
    env = {**_production_env(stack_settings, tmp_path), **_irsa_env(relay, tmp_path)}
    code, output = await _run([sys.executable, "-m", "ops.cli", "dlq", "list"], env)
    assert code == 0, output[-2000:]
    assert "kafka/shopstream.dead-letters" in output
    _assert_the_role_signed(relay, "sqs")


@pytest.mark.parametrize(
    ("role", "service"),
    [("dlq-watch", "sqs"), ("delivery", "sqs"), ("gateway", "dynamodb")],
)
async def test_every_aws_process_in_production_signs_with_the_pods_role(
    stack_settings: Settings, relay: Relay, tmp_path: Path, role: str, service: str
) -> None:
    gateway, metrics = _free_ports(2)
    env = {
        **_production_env(stack_settings, tmp_path),
        **_irsa_env(relay, tmp_path),
        "SHOPSTREAM_PORTS__GATEWAY": str(gateway),
        "SHOPSTREAM_PORTS__DEAD_LETTER_WATCH_METRICS": str(metrics),
        "SHOPSTREAM_PORTS__DELIVERY_METRICS": str(metrics),
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "ops.roles",
        role,
        env=env,
        cwd=REPO_ROOT,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    try:

        async def signed_by_the_role() -> bool:
            if process.returncode is not None:
                raise AssertionError(f"{role} exited with {process.returncode}")
            return any(call.service == service for call in relay.signed())

        await eventually(signed_by_the_role, f"{role}'s first {service} call", timeout_s=60)
    finally:
        if process.returncode is None:
            process.terminate()
        await process.wait()
    _assert_the_role_signed(relay, service)
