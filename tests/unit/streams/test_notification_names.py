from __future__ import annotations

from shopstream.settings import Settings
from streams.contract import Channel
from streams.notification_names import filter_policy, queue_names


def test_each_channel_has_a_queue_and_a_dead_letter_queue_named_after_it() -> None:
    settings = Settings.model_construct()
    names = queue_names(settings, Channel.SMS)
    assert names.queue == "shopstream-notifications-sms"
    assert names.dead_letter == "shopstream-notifications-sms-dlq"


def test_a_channels_filter_policy_matches_that_channel_only() -> None:
    assert filter_policy(Channel.PUSH) == {"channel": ["push"]}
