"""Fixtures for the vision tests: the bundled ONNX model as a classifier, real MNIST test digits by label."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from digitreader.vision.shifts import shift_averaged

REPO = Path(__file__).resolve().parents[2]
BUNDLED_MODEL = REPO / "src" / "digitreader" / "weights" / "default.onnx"

Classify = Callable[[np.ndarray], np.ndarray]


@pytest.fixture(scope="session")
def classify() -> Classify:
    """`classify(batch (N, 28, 28) uint8) -> (N, 10)`: the bundled model through ONNX Runtime, averaged over
    one-pixel shifts as the `Recognizer` does."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    session = ort.InferenceSession(str(BUNDLED_MODEL), opts, providers=["CPUExecutionProvider"])

    def run(batch: np.ndarray) -> np.ndarray:
        return np.asarray(session.run(None, {"image": batch[:, None].astype(np.float32) / 255.0})[0])

    return shift_averaged(run)  # as the Recognizer classifies


@pytest.fixture(scope="session")
def digits_by_label(mnist_dir: Path) -> dict[int, list[np.ndarray]]:
    """MNIST test digits grouped by label (the first 50 of each)."""
    from digitreader.data.synth import load_test_digits

    images, labels = load_test_digits(mnist_dir)
    return {d: [images[i] for i in np.flatnonzero(labels == d)[:50]] for d in range(10)}
