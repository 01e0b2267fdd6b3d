"""Every entry point refuses a misspelt or invalid setting with one line and status 2: a process
each, started as a shell, the stack or a Pod starts it."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from shopstream.settings import ENV_PREFIX, REPO_ROOT

# Typos on purpose, spelt out only at run time: the repository's own names are all checked.
MISSPELT = "SHOPSTREAM_KAFKA_BOOTSTRAP_SERVERS".removesuffix("S")
INVALID = "SHOPSTREAM_PORTS__KAFKA"

# Each entry point, by the name it gives itself in its messages.
PYTHON = [sys.executable, "-m"]
ENTRY_POINTS = {
    "python -m api": [*PYTHON, "api"],
    "python -m api openapi": [*PYTHON, "api", "openapi"],
    "python -m streams worker": [*PYTHON, "streams", "worker"],
    "python -m streams.delivery": [*PYTHON, "streams.delivery"],
    "python -m streams.carrier_simulator": [*PYTHON, "streams.carrier_simulator"],
    "python -m operators": [*PYTHON, "operators"],
    "shopstream dlq list": [str(REPO_ROOT / ".venv" / "bin" / "shopstream"), "dlq", "list"],
}


def _start(command: list[str], **variables: str) -> subprocess.CompletedProcess[str]:
    # Only the variables under test: none of the caller's can stop the process first.
    environ = {k: v for k, v in os.environ.items() if not k.startswith(ENV_PREFIX)}
    return subprocess.run(
        command,
        cwd=REPO_ROOT,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        env={**environ, **variables},
    )


def _program(started: str) -> str:
    """The name an entry point gives itself: its command without the subcommand."""
    return " ".join(started.split()[:3]) if started.startswith("python") else "shopstream"


@pytest.mark.parametrize("started", ENTRY_POINTS)
def test_a_misspelt_setting_stops_the_process_with_one_line_naming_the_right_one(
    started: str,
) -> None:
    stopped = _start(ENTRY_POINTS[started], **{MISSPELT: "127.0.0.1:9092"})
    assert (stopped.returncode, stopped.stderr.splitlines()) == (
        2,
        [
            f"{_program(started)}: error: {MISSPELT} is not a setting; "
            "did you mean SHOPSTREAM_KAFKA_BOOTSTRAP_SERVERS?"
        ],
    )
    assert stopped.stdout == ""


@pytest.mark.parametrize("started", ["python -m api", "python -m streams worker"])
def test_an_invalid_setting_stops_the_process_with_one_line_naming_the_variable(
    started: str,
) -> None:
    stopped = _start(ENTRY_POINTS[started], **{INVALID: "kafka"})
    assert (stopped.returncode, stopped.stderr.splitlines()) == (
        2,
        [
            f"{_program(started)}: error: {INVALID}: "
            "Input should be a valid integer, unable to parse string as an integer"
        ],
    )
