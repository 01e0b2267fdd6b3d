"""E-mail over SMTP, the body rendered from a readable Jinja2 template (``templates/``)."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import formatdate

import aiosmtplib
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from shopstream.settings import Settings
from streams.contract import CustomerNotification
from streams.domain.notifications import money

_templates = Environment(
    loader=PackageLoader("streams.delivery", "templates"),
    undefined=StrictUndefined,  # a misspelt field fails the send instead of mailing a blank
    trim_blocks=True,
    lstrip_blocks=True,
    # Only .html templates would hold markup; the text one must not be escaped.
    autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
)
_templates.globals["money"] = money


def render(notification: CustomerNotification) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = notification.subject
    message["To"] = notification.address
    message["Date"] = formatdate(notification.occurred_at.timestamp())
    # The same id for every copy of this notification: mail clients fold duplicates too.
    message["Message-ID"] = f"<{notification.notification_id}@shopstream>"
    message.set_content(_templates.get_template("email.txt.j2").render(n=notification))
    return message


async def send_email(settings: Settings, message: EmailMessage) -> None:
    """``message`` from the shop's sender over the SMTP server the settings name (the
    gateway's verification codes go this way too)."""
    message["From"] = settings.mail_from
    password = settings.smtp_password
    await aiosmtplib.send(
        message,
        hostname=settings.smtp_host,
        port=settings.smtp_port,
        username=settings.smtp_username,
        password=password.get_secret_value() if password else None,
        start_tls=settings.smtp_starttls,
        timeout=settings.smtp_timeout_s,
    )


class EmailSender:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    async def __call__(self, notification: CustomerNotification) -> None:
        await send_email(self.settings, render(notification))
