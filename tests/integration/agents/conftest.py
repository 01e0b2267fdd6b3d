from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.delivery.conftest import Mailbox, smtp_server


@pytest.fixture(scope="module")
def mailbox() -> Iterator[Mailbox]:
    with smtp_server() as box:
        yield box
