from __future__ import annotations

from operators.handlers.lifecycle import backoff


def test_transient_failures_back_off_exponentially_to_a_minute() -> None:
    assert [backoff(retry) for retry in (0, 1, 2, 3, 10)] == [1.0, 2.0, 4.0, 8.0, 60.0]
