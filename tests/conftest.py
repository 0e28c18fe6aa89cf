"""Shared fixtures: MNIST three ways. `mnist_sample_dir`: real MNIST digits committed with the tests (the
first 300 test and 120 training digits), for tests that need real digits but not all of them: they run on a
fresh clone. `mnist_dir`: the whole of MNIST, for the tests that need it; they skip, saying why, where it is
absent, unless DIGITREADER_REQUIRE_MNIST=1 (CI), where they fail. `tiny_mnist_dir`: generated files in the
format, for tests of the format and the training path."""

from __future__ import annotations

import gzip
import os
import struct
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
MNIST_SAMPLE = REPO / "tests" / "data" / "mnist-sample"


def real_mnist_dir() -> Path | None:
    """The whole of MNIST: the folder $DIGITREADER_DATA names, or None when it does not hold MNIST."""
    candidate = os.environ.get("DIGITREADER_DATA")
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
    """The whole of MNIST; tests that need it skip, saying why, where it is absent (fail if required)."""
    found = real_mnist_dir()
    if found is None:
        reason = "the MNIST files were not found (set DIGITREADER_DATA to the MNIST folder)"
        if os.environ.get("DIGITREADER_REQUIRE_MNIST") == "1":
            pytest.fail(reason + "; DIGITREADER_REQUIRE_MNIST=1 requires them")
        pytest.skip(reason)
    return found


@pytest.fixture(scope="session")
def mnist_sample_dir() -> Path:
    """Real MNIST digits committed with the tests: the first 300 test and 120 training digits."""
    return MNIST_SAMPLE


@pytest.fixture(scope="session")
def trained_checkpoint(tmp_path_factory: pytest.TempPathFactory, tiny_mnist_dir: Path) -> Path:
    """A `fast` model trained to 100% on the tiny MNIST (~3 s once per session), saved as a checkpoint.

    For the int8 export: a fresh model's near-uniform probabilities flip their argmax under 8-bit rounding
    (1-3% of images in trials), which the export rightly refuses; a trained one has margins, as real ones do.
    """
    import torch

    from digitreader.data.mnist import load_mnist
    from digitreader.models.registry import build_model
    from digitreader.training.checkpoint import save_checkpoint

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    data = load_mnist(tiny_mnist_dir, download=False)
    x = torch.from_numpy(data.train_images.astype(np.float32)[:, None] / 255.0)
    y = torch.from_numpy(data.train_labels)
    model = build_model("fast")  # widths 16, 32, 64: big enough that int8 weights shrink the file
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    model.train()
    for _ in range(120):
        pick = torch.randint(0, len(x), (64,))
        loss = torch.nn.functional.cross_entropy(model(x[pick]), y[pick])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    torch.set_num_threads(threads)
    path = tmp_path_factory.mktemp("trained") / "fast.pt"
    return save_checkpoint(path, model_name="fast", model=model.eval(), recipe={}, metrics={})
