"""Fixtures for the hostile-input tests: the real recogniser, and pictures made to cost a reader dearly."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from digitreader.recognizer import Recognizer


@pytest.fixture(scope="session")
def recognizer() -> Recognizer:
    """The bundled model on one ONNX Runtime thread, with the default per-picture CPU limit."""
    return Recognizer.load(threads=1)


def salt_and_pepper(side: int, density: float, seed: int = 0) -> np.ndarray:
    """A white square with `density` of its pixels flipped to black or white at random: no writing at all,
    and tens of thousands of marks (a photo of static, or an attack on the segmentation)."""
    rng = np.random.default_rng(seed)
    image = np.full((side, side), 255, np.uint8)
    flip = rng.random((side, side))
    image[flip < density / 2] = 0
    return image


def png(image: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, "PNG")
    return buffer.getvalue()


@pytest.fixture()
def noise_png(tmp_path: Path) -> Callable[[int, float], Path]:
    """`noise_png(side, density)`: a salt-and-pepper PNG file."""

    def make(side: int, density: float) -> Path:
        path = tmp_path / f"noise-{side}-{density}.png"
        path.write_bytes(png(salt_and_pepper(side, density)))
        return path

    return make


def ellipse_grid(cols: int = 40, rows: int = 45, side: int = 1224) -> np.ndarray:
    """A slow picture under the mark cap: 1,800 ellipses twice as wide as tall, each one a "number" whose
    touching digits must be split and classified (about 10 s of CPU without a limit)."""
    import cv2

    image = np.full((side, side), 255, np.uint8)
    cw, ch = side // cols, side // rows
    for i in range(rows):
        for j in range(cols):
            centre = (j * cw + cw // 2, i * ch + ch // 2)
            cv2.ellipse(image, centre, (cw // 2 - 2, ch // 4), 0, 0, 360, 0, 2)
    return image


class LiveApp:
    """`create_app(settings, recognizer)` under a real uvicorn in a thread on 127.0.0.1 (a free port)."""

    def __init__(self, app: object) -> None:
        import socket
        import threading

        import uvicorn

        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))  # type: ignore[arg-type]
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    def __enter__(self) -> LiveApp:
        import time

        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        assert self.server.started, "uvicorn did not start"
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(15)
        self.sock.close()


@pytest.fixture(scope="session")
def digit_png_bytes() -> bytes:
    """A PNG of a drawn 7 (thick black strokes on white)."""
    import cv2

    image = np.full((240, 240), 255, np.uint8)
    cv2.polylines(image, [np.array([(75, 72), (165, 72), (107, 178)], np.int32)], False, 0, 16, cv2.LINE_AA)
    return png(image)
