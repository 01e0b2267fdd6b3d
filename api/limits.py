"""Request body caps, answered as problem documents.

FastAPI's own ``max_body_size`` answers a declared Content-Length over the cap with a plain-text
413, bypassing the app's exception handlers; this middleware answers problem+json in both cases:
a declared length over the cap is refused before anything is read, and a body streamed without
one (chunked) is cut off as soon as it passes the cap. Routes that take more (image uploads)
name their own cap by path.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.problems import problem


class BodyLimitMiddleware:
    def __init__(
        self, app: ASGIApp, default_limit: int, limits_by_path: Mapping[str, int] | None = None
    ) -> None:
        self.app = app
        self.default_limit = default_limit
        self.limits = [(re.compile(path), limit) for path, limit in (limits_by_path or {}).items()]

    def limit_for(self, path: str) -> int:
        return next(
            (limit for pattern, limit in self.limits if pattern.match(path)), self.default_limit
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        detail = f"The request body is larger than {scope['path']} accepts ({limit} bytes)."
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            await problem(413, detail, instance=scope["path"])(scope, receive, send)
            return
        received = 0

        async def receive_within_limit() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    # Raised where the route reads its body: the app's handlers answer it.
                    raise HTTPException(413, detail)
            return message

        await self.app(scope, receive_within_limit, send)
