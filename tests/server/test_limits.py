"""The body-size middleware alone, driven as ASGI: it must stop reading as soon as a body is too large."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from digitreader.server.limits import BodySizeLimit

LIMIT = 1_000


class Inner:
    """An ASGI app that reads the whole body and answers 200 with its length."""

    def __init__(self) -> None:
        self.called = False

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        self.called = True
        size = 0
        while True:
            message = await receive()
            size += len(message.get("body", b""))
            if not message.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": str(size).encode()})


def run(chunks: list[bytes], headers: list[tuple[bytes, bytes]]) -> tuple[int, bytes, int, bool]:
    """Drive the middleware; returns (status, body, chunks the client handed over, inner app called)."""
    inner = Inner()
    app = BodySizeLimit(inner, max_bytes=LIMIT)
    handed = 0
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal handed
        handed += 1
        return {"type": "http.request", "body": chunks[handed - 1], "more_body": handed < len(chunks)}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/", "headers": headers}
    asyncio.run(app(scope, receive, send))
    status = sent[0]["status"]
    body = b"".join(m.get("body", b"") for m in sent[1:])
    return status, body, handed, inner.called


def test_content_length_over_the_limit_is_refused_without_reading():
    status, body, handed, called = run([b"x" * 10], [(b"content-length", str(LIMIT + 1).encode())])
    assert status == 413
    assert handed == 0 and not called
    assert str(LIMIT) in json.loads(body)["detail"]


def test_streamed_body_is_cut_off_as_soon_as_it_passes_the_limit():
    chunks = [b"x" * 300] * 100  # 30,000 bytes in all
    status, body, handed, called = run(chunks, [(b"transfer-encoding", b"chunked")])
    assert status == 413
    assert called
    assert handed == 4  # 1,200 bytes: the first chunk over 1,000; the other 96 never read
    assert isinstance(json.loads(body)["detail"], str)


def test_a_body_up_to_the_limit_passes_through():
    chunks = [b"x" * 500, b"x" * 500]
    status, body, handed, called = run(chunks, [(b"content-length", str(LIMIT).encode())])
    assert (status, body, handed, called) == (200, b"1000", 2, True)


def test_other_scopes_pass_untouched():
    seen = []

    async def inner(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope["type"])

    asyncio.run(BodySizeLimit(inner, max_bytes=LIMIT)({"type": "lifespan"}, None, None))  # type: ignore[arg-type]
    assert seen == ["lifespan"]
