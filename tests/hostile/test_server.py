"""The HTTP API against hostile uploads and clients: every refusal a 4xx with a plain one-line `detail`
(never a 500, never a traceback), 503 with Retry-After when full, reads dropped when their client leaves,
and one log line per request."""

from __future__ import annotations

import io
import logging
import socket
import threading
import time
import warnings
from collections.abc import Iterator
from typing import Any

import httpx
import numpy as np
import pytest
from PIL import Image

from digitreader import budget
from digitreader.errors import ReadCancelledError
from digitreader.reading import Reading
from digitreader.server.app import create_app
from digitreader.server.settings import Settings

from .conftest import LiveApp, ellipse_grid, png, salt_and_pepper

with warnings.catch_warnings():  # starlette's notice, on every run, that its TestClient will move off httpx
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient


@pytest.fixture(scope="module")
def client(recognizer) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    with TestClient(create_app(Settings(), recognizer)) as test_client:
        yield test_client


def saved(fmt: str, mode: str = "RGB", size: tuple[int, int] = (60, 40), **kwargs: Any) -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, size, 255 if mode in ("L", "I;16") else "white").save(buffer, fmt, **kwargs)
    return buffer.getvalue()


def truncated_png() -> bytes:
    noise = np.random.default_rng(0).integers(0, 256, (300, 300), dtype=np.uint8)
    return png(noise)[:3000]


def giant_header_png() -> bytes:
    """A PNG whose header claims 100,000 x 100,000 pixels."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b""))
        + chunk(b"IEND", b"")
    )


HOSTILE_UPLOADS = {
    "dds": (saved("DDS"), 415),
    "avif-like": (b"\x00\x00\x00\x1cftypavif" + bytes(500), 415),
    "tga": (saved("TGA"), 415),
    "truncated png": (truncated_png(), 422),
    "giant header": (giant_header_png(), 413),
    "one pixel": (saved("PNG", size=(1, 1)), 422),
    "text": (b"%PDF-1.4 not a picture", 415),
    "tiff 16-bit": (saved("TIFF", "I;16"), 200),
}


@pytest.mark.parametrize("name", HOSTILE_UPLOADS)
def test_hostile_uploads_get_a_4xx_with_a_plain_detail(client: TestClient, name: str) -> None:
    data, status = HOSTILE_UPLOADS[name]
    for response in (
        client.post("/v1/read", content=data, headers={"Content-Type": "image/png"}),
        client.post("/v1/read", files={"file": (f"{name}.png", data, "image/png")}),
    ):
        assert response.status_code == status, response.text
        body = response.json()
        if status != 200:
            assert isinstance(body["detail"], str) and "\n" not in body["detail"]
            assert "Traceback" not in response.text


def test_static_is_answered_with_no_digits_and_the_reason(client: TestClient) -> None:
    data = png(salt_and_pepper(1000, 0.5))
    response = client.post("/v1/read?mode=number", content=data, headers={"Content-Type": "image/png"})
    assert response.status_code == 200
    assert response.json()["text"] == ""
    assert "separate marks" in response.json()["notes"][1]


def test_a_read_over_its_cpu_limit_is_422(recognizer) -> None:  # type: ignore[no-untyped-def]
    with TestClient(create_app(Settings(read_seconds=0.2), recognizer)) as strict:
        response = strict.post(
            "/v1/read?mode=number", content=png(ellipse_grid()), headers={"Content-Type": "image/png"}
        )
    assert response.status_code == 422
    assert response.json()["detail"] == (
        "reading stopped after 0.2 s of CPU time, the limit per picture (too much in it to read: noise?)"
    )


class GatedRecognizer:
    """Reads that wait at a gate, checking their budget as the pipeline does; records how each ended."""

    model_name = "gated"

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.entered = threading.Semaphore(0)
        self.ended: list[str] = []

    def read(self, image: Any, mode: str = "auto") -> Reading:
        self.entered.release()
        try:
            while not self.gate.is_set():
                budget.check()
                time.sleep(0.01)
        except ReadCancelledError:
            self.ended.append("cancelled")
            raise
        self.ended.append("read")
        return Reading(text="", notes=("no digits found",))


def raw_post(port: int, data: bytes) -> socket.socket:
    """A socket that has sent a whole upload of `data` and not yet read the answer."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    head = (
        f"POST /v1/read HTTP/1.1\r\nHost: t\r\nContent-Type: image/png\r\nContent-Length: {len(data)}\r\n\r\n"
    )
    sock.sendall(head.encode() + data)
    return sock


def post(url: str, data: bytes, results: list[httpx.Response]) -> threading.Thread:
    def send() -> None:
        results.append(
            httpx.post(f"{url}/v1/read", content=data, headers={"Content-Type": "image/png"}, timeout=60)
        )

    thread = threading.Thread(target=send)
    thread.start()
    return thread


def test_when_every_place_is_taken_the_next_read_gets_503_and_retry_after(digit_png_bytes: bytes) -> None:
    gated = GatedRecognizer()
    app = create_app(Settings(max_queued_reads=0), gated)
    capacity = app.state.admission.capacity
    with LiveApp(app) as live:
        results: list[httpx.Response] = []
        threads = [post(live.url, digit_png_bytes, results) for _ in range(capacity)]
        deadline = time.monotonic() + 30
        while app.state.admission.admitted < capacity and time.monotonic() < deadline:
            time.sleep(0.01)
        refused = httpx.post(
            f"{live.url}/v1/read", content=digit_png_bytes, headers={"Content-Type": "image/png"}, timeout=30
        )
        gated.gate.set()
        for thread in threads:
            thread.join(30)
    assert refused.status_code == 503
    assert refused.headers["retry-after"] == "1"
    assert "busy" in refused.json()["detail"]
    assert [r.status_code for r in results] == [200] * capacity


def test_a_read_whose_client_leaves_is_stopped(digit_png_bytes: bytes) -> None:
    gated = GatedRecognizer()
    with LiveApp(create_app(Settings(), gated)) as live:
        sock = raw_post(live.port, digit_png_bytes)
        assert gated.entered.acquire(timeout=30)  # it is reading
        sock.close()  # and its client goes
        deadline = time.monotonic() + 30
        while not gated.ended and time.monotonic() < deadline:
            time.sleep(0.01)
        gated.gate.set()
    assert gated.ended == ["cancelled"]


def test_a_queued_read_whose_client_leaves_is_never_read(digit_png_bytes: bytes) -> None:
    gated = GatedRecognizer()
    app = create_app(Settings(), gated)
    readers = app.state.admission.status()["fast"]
    with LiveApp(app) as live:
        results: list[httpx.Response] = []
        threads = [post(live.url, digit_png_bytes, results) for _ in range(readers)]
        for _ in range(readers):
            assert gated.entered.acquire(timeout=30)  # every fast place is reading
        sock = raw_post(live.port, digit_png_bytes)
        deadline = time.monotonic() + 30
        while app.state.admission.admitted < readers + 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        sock.close()  # it leaves while it waits for a place
        while app.state.admission.admitted > readers and time.monotonic() < deadline:
            time.sleep(0.01)
        gated.gate.set()
        for thread in threads:
            thread.join(30)
    assert gated.ended == ["read"] * readers  # the one that left was never read
    assert [r.status_code for r in results] == [200] * readers


def test_one_log_line_per_request(client: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="digitreader.server.requests"):
        client.get("/healthz")
        client.post("/v1/read", content=b"words", headers={"Content-Type": "image/png"})
        client.get("/no/such/page%0A")
    lines = [r.getMessage() for r in caplog.records if r.name == "digitreader.server.requests"]
    assert len(lines) == 3
    assert '"GET /healthz" 200 ' in lines[0]
    assert '"POST /v1/read" 415 ' in lines[1] and lines[1].endswith(" 5 B")
    assert '"GET /no/such/page\\n" 404' in lines[2]  # escaped: no forged log line
