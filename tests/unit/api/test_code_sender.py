"""What a verification code looks like on its way: the e-mail and the SMS."""

from __future__ import annotations

from api.code_sender import code_email, code_sms


def test_the_code_email_goes_to_the_address_and_says_the_code_and_its_lifetime() -> None:
    message = code_email("ada@example.com", "042917", 10)
    assert message["To"] == "ada@example.com"
    assert "042917" not in message["Subject"]  # not on a lock screen's preview of the subject
    body = message.get_content()
    assert "042917" in body
    assert "10 minutes" in body
    assert "ignore" in body


def test_the_code_sms_starts_with_the_code_and_fits_one_segment() -> None:
    text = code_sms("042917", 10)
    assert text.startswith("042917 ")
    assert "10 min" in text
    assert len(text) <= 160 and text.isascii()  # one GSM-7 segment
