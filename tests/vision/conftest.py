"""Fixtures for the vision tests: the bundled ONNX model as a classifier, real MNIST test digits by label."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from digitreader.recognizer import Recognizer

REPO = Path(__file__).resolve().parents[2]
BUNDLED_MODEL = REPO / "src" / "digitreader" / "weights" / "default.onnx"

Classify = Callable[[np.ndarray], np.ndarray]


@pytest.fixture(scope="session")
def recognizer() -> Recognizer:
    """The bundled model on one ONNX Runtime thread, read exactly as users read it."""
    return Recognizer.load(BUNDLED_MODEL, threads=1)


@pytest.fixture(scope="session")
def classify(recognizer: Recognizer) -> Classify:
    """`classify(batch (N, 28, 28) uint8) -> (N, 10)`: the bundled model, unsure digits averaged over
    one-pixel shifts (`Recognizer.classify`)."""
    return recognizer.classify


@pytest.fixture(scope="session")
def digits_by_label(mnist_sample_dir: Path) -> dict[int, list[np.ndarray]]:
    """MNIST test digits grouped by label (those of the committed sample: at least 21 of each)."""
    from digitreader.data.synth import load_test_digits

    images, labels = load_test_digits(mnist_sample_dir)
    return {d: [images[i] for i in np.flatnonzero(labels == d)[:50]] for d in range(10)}
