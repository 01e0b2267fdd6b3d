from __future__ import annotations

from datetime import UTC, datetime, timedelta

from operators.conditions import Condition, upsert

EARLIER = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
LATER = EARLIER + timedelta(minutes=5)


def test_a_new_condition_type_is_appended_with_the_time_of_now() -> None:
    others = [{"type": "Synced", "status": "True"}]
    result = upsert(others, Condition("Ready", "True", "Reconciled", "ok", 3), EARLIER)
    assert result == [
        {"type": "Synced", "status": "True"},
        {
            "type": "Ready",
            "status": "True",
            "reason": "Reconciled",
            "message": "ok",
            "lastTransitionTime": "2026-01-01T12:00:00Z",
            "observedGeneration": 3,
        },
    ]


def test_the_same_status_keeps_its_transition_time_while_reason_and_generation_move() -> None:
    first = upsert([], Condition("Ready", "False", "KafkaUnavailable", "down", 1), EARLIER)
    second = upsert(first, Condition("Ready", "False", "SecretNotFound", "gone", 2), LATER)
    assert second[0]["lastTransitionTime"] == "2026-01-01T12:00:00Z"
    assert (second[0]["reason"], second[0]["observedGeneration"]) == ("SecretNotFound", 2)


def test_a_status_change_moves_the_transition_time_and_replaces_in_place() -> None:
    first = upsert(
        [
            {"type": "A"},
            {"type": "Ready", "status": "False", "lastTransitionTime": "x"},
            {"type": "B"},
        ],
        Condition("Ready", "True", "Reconciled", "ok", 1),
        LATER,
    )
    assert [c["type"] for c in first] == ["A", "Ready", "B"]
    assert first[1]["lastTransitionTime"] == "2026-01-01T12:05:00Z"
