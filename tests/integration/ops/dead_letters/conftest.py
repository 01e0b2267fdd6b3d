"""Each dead-letter test works on names of its own: a unique prefix for topics and queues."""

from __future__ import annotations

import pytest

from shopstream.settings import Settings


@pytest.fixture
def isolated(stack_settings: Settings, unique: str) -> Settings:
    return stack_settings.model_copy(update={"topic_prefix": f"dlq-{unique}-"})
