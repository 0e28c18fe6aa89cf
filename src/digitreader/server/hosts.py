"""Refuse requests whose Host header names a host this server does not serve (DNS rebinding: a page on
another site that points its own name at 127.0.0.1 could otherwise call a server on the user's machine).

`allowed_hosts` holds names ("digits.example.org", "localhost", "127.0.0.1") or "*.example.org" for any
subdomain; ports are ignored. Empty: any host (the default). A refused request gets 400 with a JSON `detail`.
"""

from __future__ import annotations

import json
import logging

from starlette.types import ASGIApp, Receive, Scope, Send

from digitreader.names import printable

log = logging.getLogger(__name__)


def host_allowed(host: str, allowed: list[str]) -> bool:
    """Whether the Host header value `host` (port and case ignored) is one of `allowed`."""
    name = host.strip().lower()
    bracketed = name.startswith("[")  # an IPv6 address: [::1]:8000
    name = name[: name.find("]") + 1] if bracketed else name.rsplit(":", 1)[0]
    for pattern in allowed:
        pattern = pattern.strip().lower()
        if pattern == "*" or name == pattern:
            return True
        if pattern.startswith("*.") and name.endswith(pattern[1:]) and len(name) > len(pattern) - 1:
            return True
    return False


class AllowedHosts:
    """ASGI middleware: 400 for an HTTP request whose Host is not in `allowed` (nothing when it is empty)."""

    def __init__(self, app: ASGIApp, allowed: list[str]) -> None:
        self.app = app
        self.allowed = allowed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.allowed:
            await self.app(scope, receive, send)
            return
        host = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"host"), "")
        if host_allowed(host, self.allowed):
            await self.app(scope, receive, send)
            return
        shown = printable(host[:100])
        log.info("refused a request for host %r", shown)
        body = json.dumps({"detail": f"host {shown!r} is not served here"}).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 400, "headers": headers})
        await send({"type": "http.response.body", "body": body})
