"""The local stack's SMTP server as a process: what the e-mail sender sends lands as a file."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from uuid import uuid4

from shopstream.settings import Settings
from stack.apps import smtp_ok
from streams.contract import Channel, CustomerNotification, NotificationKind, OrderStatus
from streams.delivery.email import EmailSender
from streams.testing import free_port


async def test_a_sent_email_is_kept_as_a_file_under_the_state_dir(tmp_path: Path) -> None:
    port = free_port()
    settings = Settings(state_dir=tmp_path, smtp_port=port)
    env = {**os.environ, "SHOPSTREAM_STATE_DIR": str(tmp_path), "SHOPSTREAM_SMTP_PORT": str(port)}
    sink = await asyncio.create_subprocess_exec(sys.executable, "-m", "stack.mail_sink", env=env)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                assert (await smtp_ok(settings)).startswith("SMTP 250")
                break
            except OSError:
                assert time.monotonic() < deadline, "the mail sink never answered"
                await asyncio.sleep(0.2)
        notification = CustomerNotification(
            notification_id=uuid4(),
            event_id=uuid4(),
            occurred_at=datetime.now(UTC),
            trace_id=uuid4().hex,
            kind=NotificationKind.DELIVERED,
            channel=Channel.EMAIL,
            order_id="ord-1",
            user_id="usr-1",
            recipient_name="Ada",
            address="ada@example.com",
            status=OrderStatus.DELIVERED,
            subject="Order ord-1 delivered",
            text="Order ord-1 has been delivered.",
            link="http://shop.test/orders/ord-1",
        )
        await EmailSender(settings)(notification)
        deadline = time.monotonic() + 10
        while not (kept := list((tmp_path / "mail").glob("*.eml"))):
            assert time.monotonic() < deadline, "no mail kept"
            await asyncio.sleep(0.1)
    finally:
        sink.terminate()
        await asyncio.wait_for(sink.wait(), 10)
    (mail,) = kept
    text = mail.read_text()
    assert "Subject: Order ord-1 delivered" in text
    assert "http://shop.test/orders/ord-1" in text
