"""MNIST loading: where the files are found, checksums, the 55k/5k/10k split, errors."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import numpy as np
import pytest

from digitreader.data import mnist
from digitreader.data.idx import read_idx, write_idx
from digitreader.data.mnist import FILES, load_mnist, resolve_data_dir, validation_indices
from digitreader.errors import DataError


def test_real_mnist_split(mnist_dir: Path) -> None:
    data = load_mnist(mnist_dir, download=False)
    sizes = {name: len(data.split(name)[0]) for name in mnist.SPLITS}
    assert sizes == {"train": 55000, "validation": 5000, "test": 10000}
    for name in mnist.SPLITS:
        images, labels = data.split(name)
        assert images.dtype == np.uint8 and images.shape[1:] == (28, 28)
        assert labels.dtype == np.int64 and len(labels) == len(images)
        assert set(np.unique(labels)) == set(range(10))
    # Train and validation partition the training file exactly: no image in both, none lost.
    raw_images = read_idx(mnist_dir / "train-images-idx3-ubyte.gz")
    val_idx = validation_indices(60000, 5000)
    np.testing.assert_array_equal(data.val_images, raw_images[val_idx])
    rest = np.setdiff1d(np.arange(60000), val_idx)
    np.testing.assert_array_equal(data.train_images, raw_images[rest])
    # The published counts (LeCun's page): the test set has 1135 ones and 892 fives.
    assert np.bincount(data.test_labels).tolist()[1] == 1135
    assert np.bincount(data.test_labels).tolist()[5] == 892


def test_split_is_pinned() -> None:
    """The split never changes (it does not use numpy's RNG): its first indices are fixed forever."""
    idx = validation_indices(60000, 5000)
    assert len(idx) == 5000 and len(np.unique(idx)) == 5000
    assert np.all(np.diff(idx) > 0)
    np.testing.assert_array_equal(idx, validation_indices(60000, 5000))
    assert idx[:5].tolist() == PINNED_FIRST_INDICES
    # Spread over the whole file, not a block at either end.
    assert np.histogram(idx, bins=6, range=(0, 60000))[0].min() > 700


PINNED_FIRST_INDICES = [10, 18, 21, 41, 48]


def test_tiny_split(tiny_mnist_dir: Path) -> None:
    data = load_mnist(tiny_mnist_dir, download=False)
    assert len(data.val_labels) == 600 // 12
    assert len(data.train_labels) == 600 - 50
    assert len(data.test_labels) == 200
    again = load_mnist(tiny_mnist_dir, download=False)
    np.testing.assert_array_equal(data.val_images, again.val_images)
    np.testing.assert_array_equal(data.train_labels, again.train_labels)
    # Every training-file image lands in exactly one of train / validation.
    raw = read_idx(tiny_mnist_dir / "train-images-idx3-ubyte.gz")
    together = np.concatenate([data.train_images, data.val_images]).reshape(600, -1)
    assert sorted(map(bytes, together)) == sorted(map(bytes, raw.reshape(600, -1)))


def test_unknown_split(tiny_mnist_dir: Path) -> None:
    with pytest.raises(DataError, match="unknown split 'val'"):
        load_mnist(tiny_mnist_dir, download=False).split("val")


def test_resolve_data_dir_order(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DIGITREADER_DATA", str(tmp_path / "env"))
    assert resolve_data_dir(tmp_path / "arg") == tmp_path / "arg"
    assert resolve_data_dir() == tmp_path / "env"
    monkeypatch.delenv("DIGITREADER_DATA")
    default = resolve_data_dir()
    assert default.name == "mnist" and "digitreader" in str(default)


def test_unpacked_files_are_found_and_verified(mnist_dir: Path, tmp_path: Path) -> None:
    for spec in FILES:
        target = tmp_path / spec.name.removesuffix(".gz")
        target.write_bytes(gzip.decompress((mnist_dir / spec.name).read_bytes()))
    data = load_mnist(tmp_path, download=False, verify=True)
    assert len(data.train_labels) == 55000


def test_full_size_file_with_other_content_fails_checksum(mnist_dir: Path, tmp_path: Path) -> None:
    for spec in FILES:
        shutil.copy(mnist_dir / spec.name, tmp_path / spec.name)
    labels = read_idx(tmp_path / "t10k-labels-idx1-ubyte.gz")
    labels[0] = (labels[0] + 1) % 10  # same shape, one label changed
    write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", labels)
    with pytest.raises(DataError, match=r"t10k-labels-idx1-ubyte.gz: checksum mismatch"):
        load_mnist(tmp_path, download=False)
    # Re-compressing the real bytes differently is still the published file.
    write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", read_idx(mnist_dir / "t10k-labels-idx1-ubyte.gz"))
    assert len(load_mnist(tmp_path, download=False).test_labels) == 10000


def test_verify_true_rejects_tiny_files(tiny_mnist_dir: Path) -> None:
    with pytest.raises(DataError, match="checksum mismatch"):
        load_mnist(tiny_mnist_dir, download=False, verify=True)


def test_missing_folder_and_file(tmp_path: Path, tiny_mnist_dir: Path) -> None:
    with pytest.raises(DataError, match="MNIST folder not found"):
        load_mnist(tmp_path / "absent", download=False)
    for spec in FILES[1:]:
        shutil.copy(tiny_mnist_dir / spec.name, tmp_path / spec.name)
    with pytest.raises(DataError, match="train-images-idx3-ubyte.gz: MNIST file not found"):
        load_mnist(tmp_path, download=False)


@pytest.mark.parametrize(
    ("which", "array", "reason"),
    [
        ("train-labels-idx1-ubyte.gz", np.full(600, 12, np.uint8), r"labels outside 0\.\.9"),
        ("train-labels-idx1-ubyte.gz", np.zeros(599, np.uint8), "600 images but labels of shape"),
        ("t10k-images-idx3-ubyte.gz", np.zeros((200, 32, 32), np.uint8), r"shape \(N, 28, 28\)"),
    ],
)
def test_inconsistent_files(
    tiny_mnist_dir: Path, tmp_path: Path, which: str, array: np.ndarray, reason: str
) -> None:
    for spec in FILES:
        shutil.copy(tiny_mnist_dir / spec.name, tmp_path / spec.name)
    write_idx(tmp_path / which, array)
    with pytest.raises(DataError, match=reason):
        load_mnist(tmp_path, download=False)
