"""The notification preferences page in Chromium: an address is unconfirmed until the code
sent there is typed in; a wrong code is refused in words."""

from __future__ import annotations

import asyncio
import re
import time
import uuid

from playwright.async_api import expect

from tests.e2e.conftest import System, Tabs, register


async def mailed_code(system: System, address: str) -> str:
    deadline = time.monotonic() + 30
    while not (mails := system.mailbox.to(address)):
        assert time.monotonic() < deadline, f"no code mailed to {address}"
        await asyncio.sleep(0.1)
    match = re.search(r"code is (\d{6})", mails[-1].get_content())
    assert match, mails[-1].get_content()
    return match.group(1)


async def test_a_customer_confirms_their_email_with_the_code_and_a_phone_stays_unconfirmed(
    tabs: Tabs, system: System
) -> None:
    customer = await tabs.open("customer")
    page = customer.page
    email = await register(customer, "Ada")
    await page.get_by_role("link", name="Notifications").click()
    await expect(page.get_by_text(f"{email} is not confirmed")).to_be_visible()
    await customer.shot("unconfirmed")

    phone = f"+1555{uuid.uuid4().int % 10**7:07d}"
    await page.get_by_label("Phone number").fill(phone)
    await page.get_by_label("SMS", exact=True).check()
    await page.get_by_role("button", name="Save").click()
    await expect(page.get_by_text(f"{email} is not confirmed yet")).to_be_visible()
    await expect(page.get_by_text(f"{phone} is not confirmed yet")).to_be_visible()

    code = await mailed_code(system, email)
    await page.get_by_label("Address", exact=True).select_option(label=f"E-mail to {email}")
    await page.get_by_label("Code", exact=True).fill(f"{(int(code) + 1) % 10**6:06d}")
    await page.get_by_role("button", name="Confirm").click()
    await expect(page.get_by_role("alert")).to_contain_text("4 more tries")
    await customer.shot("wrong-code")

    await page.get_by_label("Code", exact=True).fill(code)
    await page.get_by_role("button", name="Confirm").click()
    await expect(page.get_by_text(f"✓ {email} is confirmed.")).to_be_visible()
    await expect(page.get_by_text(f"{phone} is not confirmed yet")).to_be_visible()
    await customer.shot("confirmed")
