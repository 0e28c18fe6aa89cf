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
