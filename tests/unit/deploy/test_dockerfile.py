"""The Dockerfile and the image's lock: linted, and the lock is the dev lock without the tools."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from shopstream.settings import REPO_ROOT

PIN = re.compile(r"^([A-Za-z0-9_.\-\[\]]+)==([^\s\\;]+)", re.MULTILINE)
DEV_TOOLS = {"pytest", "moto", "ruff", "mypy", "import-linter", "schemathesis", "playwright"}


def _pins(path: Path) -> dict[str, str]:
    return {name.lower(): version for name, version in PIN.findall(path.read_text())}


def test_the_dockerfile_passes_hadolint() -> None:
    hadolint = REPO_ROOT / ".venv" / "bin" / "hadolint"
    result = subprocess.run(
        [str(hadolint), str(REPO_ROOT / "Dockerfile")], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_runtime_lock_pins_what_the_dev_lock_pins() -> None:
    runtime = _pins(REPO_ROOT / "requirements-runtime.lock")
    full = _pins(REPO_ROOT / "requirements.lock")
    differ = {
        name: (version, full.get(name))
        for name, version in runtime.items()
        if full.get(name) != version
    }
    assert runtime and not differ, f"regenerate requirements-runtime.lock: {differ}"


def test_the_runtime_lock_has_no_test_tools_and_a_hash_for_every_pin() -> None:
    text = (REPO_ROOT / "requirements-runtime.lock").read_text()
    assert not DEV_TOOLS & set(_pins(REPO_ROOT / "requirements-runtime.lock"))
    for block in re.split(r"\n(?=[A-Za-z])", text.split("\n", 2)[2]):
        assert "--hash=sha256:" in block, f"no hash: {block.splitlines()[0]}"


def test_the_image_context_leaves_out_tests_and_local_state() -> None:
    ignored = (REPO_ROOT / ".dockerignore").read_text().splitlines()
    assert ignored[1] == "*"  # everything out, then only what the image copies back in
    allowed = {line[1:] for line in ignored if line.startswith("!")}
    copied = set(re.findall(r"^COPY (\S+) ", (REPO_ROOT / "Dockerfile").read_text(), re.M))
    assert copied - {"--from=build"} == allowed
