"""Notification preferences in PostgreSQL (read by the notification agent)."""

from __future__ import annotations

import asyncpg

from api.schemas.notifications import NotificationPreferences, NotificationPreferencesPublic

_SELECT = """
SELECT email_opt_in, sms_opt_in, push_opt_in, phone, email
FROM notification_preferences WHERE user_id = $1
"""
_UPSERT = """
INSERT INTO notification_preferences
    (user_id, email_opt_in, sms_opt_in, push_opt_in, phone, email, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, now())
ON CONFLICT (user_id) DO UPDATE SET
    email_opt_in = excluded.email_opt_in, sms_opt_in = excluded.sms_opt_in,
    push_opt_in = excluded.push_opt_in, phone = excluded.phone, email = excluded.email,
    updated_at = now()
"""


async def get_preferences(pool: asyncpg.Pool, user_id: str) -> NotificationPreferencesPublic:
    row = await pool.fetchrow(_SELECT, user_id)
    if row is None:
        chosen = NotificationPreferences()
        return NotificationPreferencesPublic(**chosen.model_dump())
    return NotificationPreferencesPublic(
        email=row["email_opt_in"],
        sms=row["sms_opt_in"],
        push=row["push_opt_in"],
        phone=row["phone"],
        email_address=row["email"],
    )


async def put_preferences(
    pool: asyncpg.Pool, user_id: str, chosen: NotificationPreferences
) -> NotificationPreferencesPublic:
    await pool.execute(
        _UPSERT,
        user_id,
        chosen.email,
        chosen.sms,
        chosen.push,
        chosen.phone,
        chosen.email_address,
    )
    return NotificationPreferencesPublic(**chosen.model_dump())
