"""SMS through SNS's direct publish to a phone number (in AWS: SNS SMS; locally moto keeps
what would have been sent)."""

from __future__ import annotations

from typing import Any

from streams.contract import CustomerNotification


def sms_text(notification: CustomerNotification) -> str:
    return f"{notification.text} {notification.link}"


async def send_sms(sns: Any, phone: str, text: str) -> None:
    """``text`` to ``phone`` (E.164) through SNS (the gateway's verification codes go this way
    too)."""
    await sns.publish(
        PhoneNumber=phone,
        Message=text,
        MessageAttributes={
            # Order news and codes are transactional: SNS routes them for reliability, not cost.
            "AWS.SNS.SMS.SMSType": {"DataType": "String", "StringValue": "Transactional"}
        },
    )


class SmsSender:
    def __init__(self, sns: Any) -> None:
        self.sns = sns

    async def __call__(self, notification: CustomerNotification) -> None:
        await send_sms(self.sns, notification.address, sms_text(notification))
