"""Verification codes on their way: e-mail over SMTP, SMS through SNS's publish to a phone.

The same senders the delivery workers use for order news (``streams.delivery``), called here
directly rather than through the notification topic: the customer is waiting for the code,
and a code that could not be sent must be said so in the answer, not retried in a queue.
"""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any

from aiosmtplib import SMTPException
from botocore.exceptions import BotoCoreError, ClientError

from api.address_codes import VerifiedChannel
from api.problem_types import ProblemType
from api.problems import ApiError
from shopstream.logs import get_logger
from shopstream.settings import Settings
from streams.delivery.email import send_email
from streams.delivery.sms import send_sms

log = get_logger(__name__)


def code_email(address: str, code: str, minutes: int) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = "Your shopstream confirmation code"
    message["To"] = address
    message["Date"] = formatdate()
    message["Message-ID"] = make_msgid(domain="shopstream")
    message.set_content(
        f"Your confirmation code is {code}.\n\n"
        f"Type it into your notification preferences within {minutes} minutes to receive "
        "order news at this address.\n\n"
        "If you did not ask for it, ignore this message: nothing is sent here unless the code "
        "is typed in.\n"
    )
    return message


def code_sms(code: str, minutes: int) -> str:
    # Short: one SMS segment, the code first so that phones offer to copy it.
    return f"{code} is your shopstream code. It expires in {minutes} min. Not you? Ignore it."


class CodeSender:
    def __init__(self, settings: Settings, sns: Any) -> None:
        self.settings = settings
        self.sns = sns

    async def send(self, channel: VerifiedChannel, address: str, code: str) -> None:
        """Send ``code`` to ``address``; a 503 problem if the mail server or SNS refuses."""
        minutes = max(1, self.settings.verification_code_ttl_s // 60)
        try:
            if channel == "email":
                await send_email(self.settings, code_email(address, code, minutes))
            else:
                await send_sms(self.sns, address, code_sms(code, minutes))
        except (SMTPException, OSError, BotoCoreError, ClientError) as error:
            log.warning("verification code not sent", channel=channel, error=repr(error))
            where = "e-mail" if channel == "email" else "SMS"
            raise ApiError(
                ProblemType.CODE_NOT_SENT,
                f"The code to {address} could not be sent by {where} just now, so nothing was "
                "changed; try again shortly.",
                retry_after_s=30,
            ) from error
