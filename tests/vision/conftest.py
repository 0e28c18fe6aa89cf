"""Fixtures for the vision tests: a classifier on a real ONNX model, and real MNIST test digits by label."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
MODEL_CANDIDATES = (
    REPO / "src" / "digitreader" / "weights" / "default.onnx",
    Path("/work/dev/dev-model.onnx"),
)

Classify = Callable[[np.ndarray], np.ndarray]


def model_path() -> Path | None:
    """The bundled default model if it exists, else the development model, else None."""
    return next((p for p in MODEL_CANDIDATES if p.is_file()), None)


@pytest.fixture(scope="session")
def classify() -> Classify:
    """`classify(batch (N, 28, 28) uint8) -> (N, 10)` on a real ONNX model through ONNX Runtime."""
    path = model_path()
    if path is None:
        pytest.skip(f"no ONNX model: none of {', '.join(map(str, MODEL_CANDIDATES))} exists")
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])

    def run(batch: np.ndarray) -> np.ndarray:
        return np.asarray(session.run(None, {"image": batch[:, None].astype(np.float32) / 255.0})[0])

    return run


@pytest.fixture(scope="session")
def digits_by_label(mnist_dir: Path) -> dict[int, list[np.ndarray]]:
    """MNIST test digits grouped by label (the first 50 of each)."""
    from digitreader.data.synth import load_test_digits

    images, labels = load_test_digits(mnist_dir)
    return {d: [images[i] for i in np.flatnonzero(labels == d)[:50]] for d in range(10)}
