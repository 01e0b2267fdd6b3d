"""Rotating refresh tokens, one session ("family") per sign-in, kept in DynamoDB.

A refresh token is ``<family>.<generation>.<mac>``: the session's random id, how many times it
has been rotated, and an HMAC of both under a key derived from the gateway's secret. The MAC
makes a token unforgeable without storing it; the generation makes rotation checkable with one
item per session (``pk`` = family, ``generation``, ``revoked``, ``user_id``, ``token_version``,
``expires_at``):

- the current generation is exchanged for the next one by a conditional update, so of two
  concurrent uses of one token exactly one succeeds;
- an older generation (a rotated-out token) is a reuse: someone holds a copy. The whole session
  is revoked, the thief's copy and the owner's current token alike (OAuth 2.0 Security BCP,
  "refresh token rotation"), and the owner signs in again;
- a password change bumps the user's ``token_version``; sessions started before it are refused
  at their next refresh (checked by the caller, which reads the user anyway).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass
from typing import Any, Final

from botocore.exceptions import ClientError

from api.dynamo import EXPIRES_AT, KEY, DynamoDBClient, error_code
from shopstream.logs import get_logger
from shopstream.settings import Settings

log = get_logger(__name__)

# Domain separation: the refresh-token MAC key is derived from, never equal to, the JWT key.
_KEY_LABEL: Final = b"shopstream refresh token v1"
_GENERATION: Final = re.compile(r"[0-9]{1,9}")


class SessionError(Exception):
    """A refresh token that cannot be used; the message says why (and may be shown)."""


@dataclass(frozen=True, slots=True)
class Session:
    family: str
    user_id: str
    token_version: int


class Sessions:
    def __init__(self, client: DynamoDBClient, settings: Settings) -> None:
        self._client = client
        self._table = settings.sessions_table
        self._ttl_s = settings.refresh_token_ttl_s
        secret = settings.jwt_secret.get_secret_value().encode()
        self._key = hmac.new(secret, _KEY_LABEL, hashlib.sha256).digest()

    async def start(self, user_id: str, token_version: int) -> str:
        """A new session for the user; returns its first refresh token."""
        family = secrets.token_urlsafe(16)
        now = int(time.time())
        await self._client.put_item(
            TableName=self._table,
            Item={
                KEY: {"S": family},
                "user_id": {"S": user_id},
                "generation": {"N": "1"},
                "revoked": {"BOOL": False},
                "token_version": {"N": str(token_version)},
                "created_at": {"N": str(now)},
                EXPIRES_AT: {"N": str(now + self._ttl_s)},
            },
            ConditionExpression=f"attribute_not_exists({KEY})",
        )
        return self._token(family, 1)

    async def rotate(self, token: str) -> tuple[Session, str]:
        """Exchange a refresh token for the next one; raises SessionError (see the docstring)."""
        family, generation = self._parse(token)
        item = await self._get(family)
        current = int(item["generation"]["N"])
        if generation < current:
            await self._revoke(family)
            log.warning("refresh token reused; session revoked", family=family)
            raise SessionError("refresh token already used; the session has been revoked")
        if generation > current:  # cannot happen with a valid MAC; refuse rather than trust it
            raise SessionError("refresh token not valid")
        try:
            await self._client.update_item(
                TableName=self._table,
                Key={KEY: {"S": family}},
                UpdateExpression="SET generation = :next",
                ConditionExpression="generation = :current AND revoked = :false",
                ExpressionAttributeValues={
                    ":next": {"N": str(current + 1)},
                    ":current": {"N": str(current)},
                    ":false": {"BOOL": False},
                },
            )
        except ClientError as error:
            if error_code(error) != "ConditionalCheckFailedException":
                raise
            # Someone rotated this very token a moment ago: a second holder, or a client racing
            # itself. Either way the token was used twice.
            await self._revoke(family)
            raise SessionError(
                "refresh token already used; the session has been revoked"
            ) from error
        session = Session(
            family=family,
            user_id=item["user_id"]["S"],
            token_version=int(item["token_version"]["N"]),
        )
        return session, self._token(family, current + 1)

    async def revoke(self, token: str) -> None:
        """End the session the token belongs to (any of its generations: the holder proved it)."""
        family, _ = self._parse(token)
        try:
            await self._revoke(family)
        except ClientError as error:
            # Gone already (expired and deleted): nothing is left to end.
            if error_code(error) != "ConditionalCheckFailedException":
                raise

    async def revoke_family(self, family: str) -> None:
        await self._revoke(family)

    def _token(self, family: str, generation: int) -> str:
        return f"{family}.{generation}.{self._mac(family, generation)}"

    def _mac(self, family: str, generation: int) -> str:
        digest = hmac.new(self._key, f"{family}.{generation}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()

    def _parse(self, token: str) -> tuple[str, int]:
        parts = token.split(".")
        # ASCII digits only: str.isdigit also holds for "²" or "٣", which int() then refuses.
        if len(parts) != 3 or not _GENERATION.fullmatch(parts[1]):
            raise SessionError("refresh token not valid")
        family, generation = parts[0], int(parts[1])
        if not hmac.compare_digest(parts[2], self._mac(family, generation)):
            raise SessionError("refresh token not valid")
        return family, generation

    async def _get(self, family: str) -> dict[str, Any]:
        response = await self._client.get_item(
            TableName=self._table, Key={KEY: {"S": family}}, ConsistentRead=True
        )
        item: dict[str, Any] | None = response.get("Item")
        if item is None or int(item[EXPIRES_AT]["N"]) <= time.time():
            raise SessionError("session expired; sign in again")
        if item["revoked"]["BOOL"]:
            raise SessionError("session revoked; sign in again")
        return item

    async def _revoke(self, family: str) -> None:
        await self._client.update_item(
            TableName=self._table,
            Key={KEY: {"S": family}},
            UpdateExpression="SET revoked = :true",
            ConditionExpression=f"attribute_exists({KEY})",
            ExpressionAttributeValues={":true": {"BOOL": True}},
        )
