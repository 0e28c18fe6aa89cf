"""A pure ASGI middleware that refuses request bodies over a size limit, before they are read whole.

Two ways a body can be too large: a `Content-Length` over the limit (answered 413 at once, nothing read), or
a body without one (chunked) that grows past the limit while it streams (413 as soon as the count passes it).
Pure ASGI rather than `BaseHTTPMiddleware`: it sees each chunk as it arrives and adds no task per request.
"""

from __future__ import annotations

import json
import logging

from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger(__name__)


class _BodyTooLarge(Exception):
    """Raised from `receive` when the streamed body passes the limit; caught by the middleware."""


class BodySizeLimit:
    """Answer 413 with `{"detail": ...}` to any HTTP request whose body is over `max_bytes`."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            log.info("refused a body of %d bytes (Content-Length) over %d", declared, self.max_bytes)
            await self._send_413(send)
            return

        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise _BodyTooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except _BodyTooLarge:
            log.info("refused a streamed body over %d bytes", self.max_bytes)
            if started:  # too late for a status; the server closes the connection
                raise
            await self._send_413(send)

    async def _send_413(self, send: Send) -> None:
        detail = f"request body is larger than the limit of {self.max_bytes} bytes"
        body = json.dumps({"detail": detail}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                # The rest of the body is never read: tell the client this connection will not be reused.
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def _content_length(scope: Scope) -> int | None:
    """The request's Content-Length, or None where it has none (chunked) or it is not a number."""
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
