from __future__ import annotations

from typing import Any

from streams.delivery.email import render


def test_the_email_lists_each_line_the_total_and_the_link(sent: dict[str, Any]) -> None:
    message = render(sent["email"])
    body = message.get_content()
    assert message["Subject"] == "Order ord-1 confirmed"
    assert message["To"] == "ada@example.com"
    assert "Hello Ada," in body
    assert "2 x MUG-01" in body and "12.50 EUR each" in body and "25.00 EUR" in body
    assert "1 x TEE-M" in body
    assert "Total: 45.00 EUR" in body
    assert "Your order: http://shop.test/orders/ord-1" in body


def test_every_copy_of_a_notification_has_the_same_message_id(sent: dict[str, Any]) -> None:
    first, again = render(sent["email"]), render(sent["email"])
    assert (
        first["Message-ID"]
        == again["Message-ID"]
        == f"<{sent['email'].notification_id}@shopstream>"
    )


def test_an_email_without_lines_has_no_total(sent: dict[str, Any]) -> None:
    bare = sent["email"].model_copy(update={"lines": (), "total_cents": None, "currency": None})
    assert "Total" not in render(bare).get_content()
