from __future__ import annotations

from ops.dead_letters.model import DeadLetter


def _letter(body: bytes) -> DeadLetter:
    return DeadLetter(id="0/1", reason="r", source="s", body=body, age_s=None)


def test_text_bodies_are_shown_decoded() -> None:
    assert _letter('{"ü": 1}'.encode()).text() == '{"ü": 1}'


def test_bytes_that_are_not_text_are_shown_as_bytes_with_their_length() -> None:
    assert _letter(b"\xff\x00").text() == "<2 bytes, not UTF-8> b'\\xff\\x00'"
