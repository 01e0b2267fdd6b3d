"""The `shopstream` command as an operator or a script runs it: a process, on the real stack."""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from collections.abc import Iterator
from importlib.metadata import version

import boto3
import pytest

from shopstream.settings import REPO_ROOT, Settings

SHOPSTREAM = str(REPO_ROOT / ".venv" / "bin" / "shopstream")
# A typo on purpose, spelt out only at run time: the repository's own names are all checked.
MISSPELT = "SHOPSTREAM_PORTS__GATEWAY".replace("PORTS", "PORT")


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    # No terminal: standard input is /dev/null, as under cron, CI or a pipeline.
    return subprocess.run(
        [SHOPSTREAM, *args],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    )


def test_version_is_the_package_version() -> None:
    shown = _run("--version")
    assert shown.returncode == 0
    assert shown.stdout.strip() == f"shopstream {version('shopstream')}"


def test_a_purge_without_a_terminal_refuses_and_says_to_pass_yes(
    stack_settings: Settings,
) -> None:
    refused = _run("dlq", "purge", "kafka/shopstream.dead-letters")
    assert refused.returncode != 0
    assert "pass --yes" in refused.stderr
    assert "Traceback" not in refused.stderr + refused.stdout
    assert "removed" not in refused.stdout


def test_a_misspelt_setting_stops_the_command_naming_the_right_one() -> None:
    stopped = _run("stack", "status", env={MISSPELT: "8001"})
    assert stopped.returncode == 2
    assert stopped.stderr.strip() == (
        f"shopstream: error: {MISSPELT} is not a setting; did you mean SHOPSTREAM_PORTS__GATEWAY?"
    )


@pytest.fixture
def sqs_dead_letters(stack_settings: Settings) -> Iterator[str]:
    """A work queue and the dead-letter queue its redrive policy names: what `dlq list` finds
    on SQS, whatever else this stack has made so far."""
    sqs = boto3.client(
        "sqs", endpoint_url=stack_settings.aws_endpoint_url, region_name=stack_settings.aws_region
    )
    name = f"{stack_settings.topic_prefix}cli-{uuid.uuid4().hex[:8]}"
    dead = sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=dead, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    policy = json.dumps({"deadLetterTargetArn": arn, "maxReceiveCount": "3"})
    work = sqs.create_queue(QueueName=name, Attributes={"RedrivePolicy": policy})["QueueUrl"]
    try:
        yield f"sqs/{name}-dlq"
    finally:
        sqs.delete_queue(QueueUrl=work)
        sqs.delete_queue(QueueUrl=dead)


def test_dlq_list_json_is_every_queue_with_its_count(sqs_dead_letters: str) -> None:
    listed = _run("dlq", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    queues = json.loads(listed.stdout)
    names = {queue["name"] for queue in queues}
    assert "kafka/shopstream.dead-letters" in names
    assert sqs_dead_letters in names
    for queue in queues:
        assert set(queue) == {"name", "count", "oldest_age_s"}
        assert isinstance(queue["count"], int) and queue["count"] >= 0


def test_stack_status_json_is_each_part_with_its_checks(stack_settings: Settings) -> None:
    status = _run("stack", "status", "--json", "kafka", "postgres")
    assert status.returncode == 0, status.stderr
    parts = {part["part"]: part for part in json.loads(status.stdout)}
    assert set(parts) == {"kafka", "postgres"}
    for part in parts.values():
        assert part["running"] is True
        assert part["checks"] and all(check["ok"] for check in part["checks"])
    assert parts["kafka"]["address"] == f"127.0.0.1:{stack_settings.ports.kafka}"
