"""The gateway as a real process: readiness over the real stack, problem+json, metrics, logs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from shopstream.settings import Settings
from stack.process import port_is_free


def _free_port() -> int:
    return next(port for port in range(28100, 28200) if port_is_free(port))


@pytest.fixture
def gateway(stack_settings: Settings, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    port = _free_port()
    log_path = tmp_path / "gateway.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "api"],
            env={**os.environ, "SHOPSTREAM_PORTS__GATEWAY": str(port)},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, log_path.read_text()
            try:
                if httpx.get(f"{url}/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "gateway did not answer within 60 s"
            time.sleep(0.2)
        yield url, log_path
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_readyz_answers_ready_over_the_real_stack_and_keeps_its_details_to_admins(
    gateway: tuple[str, Path],
) -> None:
    url, _ = gateway
    response = httpx.get(f"{url}/readyz", timeout=30)
    assert response.status_code == 200, response.text
    assert response.json() == {"status": "ready"}  # details: tests/integration/api/test_readiness


def test_unknown_path_and_wrong_method_answer_problem_json(gateway: tuple[str, Path]) -> None:
    url, _ = gateway
    missing = httpx.get(f"{url}/no-such-thing")
    wrong_method = httpx.delete(f"{url}/healthz")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    assert missing.json()["detail"] == "No resource at /no-such-thing."
    assert wrong_method.status_code == 405
    assert wrong_method.headers["content-type"] == "application/problem+json"
    assert "DELETE is not allowed" in wrong_method.json()["detail"]


def test_requests_are_counted_and_logged_as_json_with_the_callers_trace_id(
    gateway: tuple[str, Path],
) -> None:
    url, log_path = gateway
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    response = httpx.get(
        f"{url}/healthz", headers={"traceparent": f"00-{trace_id}-00f067aa0ba902b7-01"}
    )
    metrics = httpx.get(f"{url}/metrics").text
    assert response.headers["x-trace-id"] == trace_id
    assert 'shopstream_http_requests_total{method="GET",route="/healthz",status="200"}' in metrics
    deadline = time.monotonic() + 10
    while True:
        entries = [json.loads(line) for line in log_path.read_text().splitlines() if line]
        if any(e.get("trace_id") == trace_id and e["event"] == "request" for e in entries):
            break
        assert time.monotonic() < deadline, "no JSON access log line with the trace id"
        time.sleep(0.1)
