"""SMS through SNS's direct publish to a phone number (in AWS: SNS SMS; locally moto keeps
what would have been sent)."""

from __future__ import annotations

from typing import Any

from streams.contract import CustomerNotification


def sms_text(notification: CustomerNotification) -> str:
    return f"{notification.text} {notification.link}"


class SmsSender:
    def __init__(self, sns: Any) -> None:
        self.sns = sns

    async def __call__(self, notification: CustomerNotification) -> None:
        await self.sns.publish(
            PhoneNumber=notification.address,
            Message=sms_text(notification),
            MessageAttributes={
                # Order news is transactional: SNS routes it for reliability, not cost.
                "AWS.SNS.SMS.SMSType": {"DataType": "String", "StringValue": "Transactional"}
            },
        )
