"""Shared fixtures: MNIST (the real files where they are, tiny generated IDX files otherwise)."""

from __future__ import annotations

import gzip
import os
import struct
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_MNIST = REPO.parent / "shared" / "data" / "mnist"


def real_mnist_dir() -> Path | None:
    """The real MNIST files: $DIGITREADER_DATA, else ../shared/data/mnist beside the checkout, else None."""
    for candidate in (os.environ.get("DIGITREADER_DATA"), SHARED_MNIST):
        if candidate and (Path(candidate) / "t10k-labels-idx1-ubyte.gz").exists():
            return Path(candidate)
    return None


def write_idx(path: Path, array: np.ndarray, *, compress: bool = True) -> None:
    """Write `array` (uint8) as an IDX file, the format MNIST ships in."""
    header = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    data = header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()
    if compress:
        with gzip.open(path, "wb") as f:
            f.write(data)
    else:
        path.write_bytes(data)


def make_tiny_mnist(directory: Path, n_train: int = 600, n_test: int = 200, seed: int = 0) -> Path:
    """Four small IDX files named like MNIST's; each image has a bright bar whose height encodes its label."""
    rng = np.random.default_rng(seed)
    directory.mkdir(parents=True, exist_ok=True)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        labels = rng.integers(0, 10, n).astype(np.uint8)
        images = rng.integers(0, 30, (n, 28, 28)).astype(np.uint8)
        for i, label in enumerate(labels):
            images[i, 4 + 2 * label : 6 + 2 * label, 4:24] = 255
        write_idx(directory / f"{prefix}-images-idx3-ubyte.gz", images)
        write_idx(directory / f"{prefix}-labels-idx1-ubyte.gz", labels)
    return directory


@pytest.fixture(scope="session")
def tiny_mnist_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Tiny generated MNIST-format files: for tests that need the format, not the digits."""
    return make_tiny_mnist(tmp_path_factory.mktemp("tiny-mnist"))


@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    """The real MNIST files; tests that need real digits skip, saying why, where they are absent."""
    found = real_mnist_dir()
    if found is None:
        pytest.skip("real MNIST files not found (set DIGITREADER_DATA or put them in ../shared/data/mnist)")
    return found
