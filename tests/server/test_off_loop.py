"""Reads run in worker threads: while one is held up, the server keeps answering other requests."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import httpx
import uvicorn

from digitreader.reading import Reading
from digitreader.server.app import create_app
from digitreader.server.settings import Settings


class HeldRecognizer:
    """The real recogniser behind a gate: each read waits until the test opens it."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.model_name = real.model_name
        self.entered = threading.Event()
        self.gate = threading.Event()

    def read(self, image: Any, mode: str = "auto") -> Reading:
        self.entered.set()
        self.gate.wait(30)
        reading: Reading = self.real.read(image, mode=mode)
        return reading


def test_a_held_read_does_not_block_other_requests(recognizer, digit_png):
    held = HeldRecognizer(recognizer)
    server = uvicorn.Server(uvicorn.Config(create_app(Settings(), held), log_level="warning"))
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        answers: list[httpx.Response] = []
        reader = threading.Thread(
            target=lambda: answers.append(
                httpx.post(
                    f"{url}/v1/read",
                    content=digit_png("7"),
                    headers={"Content-Type": "image/png"},
                    timeout=60,
                )
            )
        )
        reader.start()
        assert held.entered.wait(30)
        # The read is stuck in its worker thread; the event loop must still serve this.
        assert httpx.get(f"{url}/healthz", timeout=10).status_code == 200
        assert not answers
        held.gate.set()
        reader.join(60)
        assert answers[0].status_code == 200 and answers[0].json()["text"] == "7"
    finally:
        held.gate.set()
        server.should_exit = True
        thread.join(15)
        sock.close()
