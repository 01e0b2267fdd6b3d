from __future__ import annotations

import json
from typing import Any

from shopstream.settings import Settings
from streams.delivery.push import push_payload, push_topic
from streams.delivery.sms import sms_text


def test_an_sms_is_the_text_and_the_link(sent: dict[str, Any]) -> None:
    text = sms_text(sent["sms"])
    assert text.startswith("Thank you!")
    assert text.endswith("http://shop.test/orders/ord-1")


def test_push_goes_to_the_users_own_topic() -> None:
    settings = Settings.model_construct()
    assert push_topic(settings, "usr-1") == "shopstream/users/usr-1/notifications"


def test_the_push_payload_carries_the_status_and_the_order(sent: dict[str, Any]) -> None:
    payload = json.loads(push_payload(sent["push"]))
    assert payload["status"] == "paid"
    assert payload["kind"] == "order_confirmed"
    assert payload["order_id"] == "ord-1"
    assert payload["notification_id"] == str(sent["push"].notification_id)
