"""Connections that hold the server without using it: slow headers, slow bodies, too many at once.

uvicorn waits without end for a request's headers and body, and its `limit_concurrency` answers 503 only
once a request has arrived, so 1,000 clients that connect and trickle bytes keep 1,000 sockets open: at the
usual 1,024 open files the server can accept no one else. `guarded_protocol` wraps uvicorn's HTTP protocol
(httptools) so that:

1. a request's headers must be complete within `header_timeout` seconds of the connection opening (or of
   the previous response, on a kept-alive connection) -- sending a byte now and then does not reset it;
2. its body must be complete within `body_timeout` seconds of its headers;
3. at most `max_connections` are open: a new one beyond that closes the connection that has waited longest
   for a request (a slow client, or an idle kept-alive one); when every connection is busy with a request,
   the new one is answered 503 with Retry-After and closed at once.

A late request is answered 408 when it had begun, and simply closed when it had sent nothing.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import resource
import time
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

RETRY_AFTER_S = 1  # what a refused client is told to wait
_SPARE_FILES = 64  # files the server needs besides its connections (model, workers' sockets, static files)


@dataclass(frozen=True)
class ConnectionLimits:
    header_timeout: float
    body_timeout: float
    max_connections: int


class _Open:
    """The server's open connections; those waiting for a request, oldest first (dicts keep order)."""

    def __init__(self) -> None:
        self.members: set[Any] = set()
        self.waiting: dict[Any, float] = {}

    def admit(self, conn: Any, cap: int) -> bool:
        """Count `conn` in, first closing the longest-waiting idle connection when at the cap; False (and
        `conn` not counted) when every open connection is busy with a request."""
        if len(self.members) >= cap:
            victim = next(iter(self.waiting), None)
            if victim is None:
                return False
            log.info("at %d connections: closing the one waiting longest for a request", cap)
            self.discard(victim)
            victim.transport.close()
        self.members.add(conn)
        self.waiting[conn] = time.monotonic()
        return True

    def busy(self, conn: Any) -> None:
        self.waiting.pop(conn, None)

    def idle(self, conn: Any) -> None:
        if conn in self.members:
            self.waiting[conn] = time.monotonic()

    def discard(self, conn: Any) -> None:
        self.members.discard(conn)
        self.waiting.pop(conn, None)


def _raw_response(status: int, reason: str, detail: str, extra: bytes = b"") -> bytes:
    body = json.dumps({"detail": detail}).encode()
    return (
        f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n".encode()
        + extra
        + b"\r\n"
        + body
    )


def guarded_protocol(limits: ConnectionLimits) -> type[asyncio.Protocol]:
    """uvicorn's httptools protocol with the timeouts and the connection cap of `limits` (for
    `uvicorn.Config(http=...)`); each call makes a class with its own count of open connections."""
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    class GuardedHttpToolsProtocol(HttpToolsProtocol):
        _open = _Open()
        _limits = limits

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._timer: asyncio.TimerHandle | None = None
            self._began = False  # bytes of a request have arrived
            if not self._open.admit(self, self._limits.max_connections):
                log.warning("refused a connection: %d open, all busy", self._limits.max_connections)
                detail = "the server is busy (too many connections); try again shortly"
                retry = f"retry-after: {RETRY_AFTER_S}\r\n".encode()
                transport.write(_raw_response(503, "Service Unavailable", detail, retry))
                transport.close()
                return
            self._arm(self._limits.header_timeout, self._headers_late)

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            self._open.discard(self)
            super().connection_lost(exc)

        def data_received(self, data: bytes) -> None:
            self._began = True
            super().data_received(data)

        def on_headers_complete(self) -> None:
            self._disarm()
            self._open.busy(self)
            super().on_headers_complete()
            self._arm(self._limits.body_timeout, self._body_late)

        def on_message_complete(self) -> None:
            self._disarm()
            super().on_message_complete()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing():  # kept alive: the next request has its own header time
                self._began = False
                self._open.idle(self)
                self._arm(self._limits.header_timeout, self._headers_late)

        def _arm(self, seconds: float, late: Any) -> None:
            self._disarm()
            self._timer = self.loop.call_later(seconds, late)

        def _disarm(self) -> None:
            timer = getattr(self, "_timer", None)
            if timer is not None:
                timer.cancel()
                self._timer = None

        def _headers_late(self) -> None:
            self._timer = None
            if self.transport.is_closing():
                return
            if self._began:
                log.info(
                    "closed a connection: request headers not complete in %gs", self._limits.header_timeout
                )
                detail = f"request headers not complete within {self._limits.header_timeout:g} s"
                self.transport.write(_raw_response(408, "Request Timeout", detail))
            self.transport.close()

        def _body_late(self) -> None:
            self._timer = None
            if self.transport.is_closing():
                return
            log.info("closed a connection: request body not complete in %gs", self._limits.body_timeout)
            if self.cycle is not None and not self.cycle.response_started:
                detail = f"request body not complete within {self._limits.body_timeout:g} s"
                self.transport.write(_raw_response(408, "Request Timeout", detail))
            self.transport.close()

    return GuardedHttpToolsProtocol


def fit_open_files(max_connections: int) -> int:
    """Raise this process's open-file limit to hold `max_connections` (up to the hard limit), and return
    the connections it can hold: `max_connections`, or fewer where the hard limit is lower."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    in_use = len(os.listdir("/proc/self/fd")) if os.path.isdir("/proc/self/fd") else 32
    wanted = max_connections + in_use + _SPARE_FILES
    if soft != resource.RLIM_INFINITY and soft < wanted:
        target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    if soft == resource.RLIM_INFINITY:
        return max_connections
    fits = max(1, soft - in_use - _SPARE_FILES)
    if fits < max_connections:
        log.warning(
            "open-file limit %d: serving at most %d connections (max_connections %d)",
            soft,
            fits,
            max_connections,
        )
    return min(max_connections, fits)
