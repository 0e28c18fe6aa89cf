"""One log line per request: client, method, path, status, time taken, bytes received.

    127.0.0.1:52114 "POST /v1/read" 200 14.2 ms 18,420 B

The outermost middleware, so refusals made before the app (413, 400 for the host, 503) are logged too; a
request whose client left before the answer shows status 499 (nginx's "client closed request"). Names and
paths are printed with control characters escaped (`digitreader.names`).
"""

from __future__ import annotations

import logging
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from digitreader.names import printable

log = logging.getLogger("digitreader.server.requests")


class RequestLog:
    """ASGI middleware: one INFO line per HTTP request on the `digitreader.server.requests` logger."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not log.isEnabledFor(logging.INFO):
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 499
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except BaseException:
            status = 500 if status == 499 else status
            raise
        finally:
            client = scope.get("client")
            who = f"{client[0]}:{client[1]}" if client else "-"
            path = printable(scope.get("path", ""))[:200]
            elapsed = (time.perf_counter() - start) * 1000
            log.info(
                '%s "%s %s" %d %.1f ms %s B',
                who,
                scope.get("method", "?"),
                path,
                status,
                elapsed,
                f"{received:,}",
            )
