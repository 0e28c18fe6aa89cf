"""Fixtures for the server tests: the real recogniser, a TestClient, a real `digits serve` process on
loopback, and images of digits drawn as a person draws them on the page (thick strokes, black on white)."""

from __future__ import annotations

import io
import os
import re
import signal
import subprocess
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import httpx
import numpy as np
import pytest

with warnings.catch_warnings():  # starlette's notice, on every run, that its TestClient will move off httpx
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient

from digitreader.server.app import create_app
from digitreader.server.settings import Settings

REPO = Path(__file__).resolve().parents[2]

# Digit shapes the model reads reliably, as strokes (polylines) in a unit cell, x right and y down: the same
# shapes are drawn into test images here and with the mouse on the page in the browser tests.
_ELLIPSE = [(0.5 + 0.26 * np.sin(t), 0.5 - 0.38 * np.cos(t)) for t in np.linspace(0, 2 * np.pi, 49)]
SHAPES: dict[str, list[list[tuple[float, float]]]] = {
    "0": [[(float(x), float(y)) for x, y in _ELLIPSE]],
    "1": [[(0.54, 0.14), (0.46, 0.86)]],
    "4": [[(0.3, 0.14), (0.2, 0.62), (0.8, 0.62)], [(0.62, 0.3), (0.62, 0.86)]],
    "7": [[(0.22, 0.2), (0.78, 0.2), (0.42, 0.86)]],
}


def draw_digits(text: str, cell: int = 160, margin: int = 40) -> np.ndarray:
    """A white image with `text` drawn in thick black strokes, one digit per `cell`, side by side."""
    height, width = cell + 2 * margin, cell * len(text) + 2 * margin
    image = np.full((height, width), 255, np.uint8)
    thickness = max(2, int(cell * 0.1))
    for i, char in enumerate(text):
        x0, y0 = margin + i * cell, margin
        for stroke in SHAPES[char]:
            points = np.array([(x0 + x * cell, y0 + y * cell) for x, y in stroke], np.int32)
            cv2.polylines(image, [points], False, 0, thickness, cv2.LINE_AA)
    return image


def encode(image: np.ndarray, ext: str = ".png") -> bytes:
    ok, buffer = cv2.imencode(ext, image)
    assert ok
    return buffer.tobytes()


@pytest.fixture(scope="session")
def shapes() -> dict[str, list[list[tuple[float, float]]]]:
    """The strokes of each test digit in a unit cell (for drawing them with the mouse)."""
    return SHAPES


@pytest.fixture(scope="session")
def digit_png() -> Callable[[str], bytes]:
    """`digit_png("7")` / `digit_png("170")`: PNG bytes of those digits, drawn as on the page."""
    return lambda text: encode(draw_digits(text))


@pytest.fixture(scope="session")
def recognizer():  # type: ignore[no-untyped-def]
    """The real recogniser, loaded once: the bundled model (or $DIGITREADER_MODEL, as the server does)."""
    from digitreader.server.app import load_recognizer

    return load_recognizer(Settings())


@pytest.fixture(scope="module")
def client(recognizer) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    """A TestClient on an app with the default settings and the real recogniser."""
    with TestClient(create_app(Settings(), recognizer)) as test_client:
        yield test_client


@dataclass
class LiveServer:
    url: str
    host: str
    port: int
    pid: int
    max_body_bytes: int


# Limits of the live server: small enough that tests over them stay cheap.
LIVE_MAX_BODY = 2_000_000
LIVE_MAX_PIXELS = 4_000_000


def start_server(
    env_extra: dict[str, str] | None = None, args: tuple[str, ...] = ()
) -> tuple[subprocess.Popen[str], str]:
    """`digits serve --port 0` in a subprocess; returns it and the URL it printed once it answers /healthz."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env_extra or {})}
    proc = subprocess.Popen(
        [sys.executable, "-m", "digitreader", "serve", "--host", "127.0.0.1", "--port", "0", *args],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    match = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
    if not match:
        proc.kill()
        _, err = proc.communicate(timeout=10)
        raise AssertionError(f"digits serve did not start: {line!r} {err}")
    url = match.group(0).rstrip("/")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return proc, url
        except httpx.TransportError:
            time.sleep(0.1)
    proc.kill()
    raise AssertionError("digits serve never answered /healthz")


def stop_server(proc: subprocess.Popen[str]) -> None:
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture(scope="session")
def live_server() -> Iterator[LiveServer]:
    """A real `digits serve` (uvicorn) on 127.0.0.1 and a free port, with the bundled model."""
    env = {"DIGITREADER_MAX_BODY_BYTES": str(LIVE_MAX_BODY), "DIGITREADER_MAX_PIXELS": str(LIVE_MAX_PIXELS)}
    proc, url = start_server(env)
    port = int(url.rsplit(":", 1)[1])
    try:
        yield LiveServer(url=url, host="127.0.0.1", port=port, pid=proc.pid, max_body_bytes=LIVE_MAX_BODY)
    finally:
        stop_server(proc)


@pytest.fixture(scope="session")
def corrections_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, Path]]:
    """A real `digits serve` that keeps corrections (DIGITREADER_CORRECTIONS_DIR), and that folder."""
    folder = tmp_path_factory.mktemp("corrections")
    proc, url = start_server({"DIGITREADER_CORRECTIONS_DIR": str(folder)})
    port = int(url.rsplit(":", 1)[1])
    try:
        yield (
            LiveServer(url=url, host="127.0.0.1", port=port, pid=proc.pid, max_body_bytes=10_000_000),
            folder,
        )
    finally:
        stop_server(proc)


@pytest.fixture()
def png_of_size() -> Callable[[int, int], bytes]:
    """A white PNG of the given size (tiny even when huge: a decompression-bomb stand-in)."""

    def make(width: int, height: int) -> bytes:
        from PIL import Image

        buffer = io.BytesIO()
        Image.new("L", (width, height), 255).save(buffer, "PNG")
        return buffer.getvalue()

    return make
