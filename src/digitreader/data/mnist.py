"""MNIST: find (or download) the four IDX files, verify them, decode them and split 55,000 / 5,000 / 10,000.

Where the files are looked for (`resolve_data_dir`): the `data_dir` argument, else ``$DIGITREADER_DATA``, else
the user cache (``platformdirs.user_cache_dir("digitreader")/mnist``). Each file may be gzipped (as published)
or unpacked (the same name without ``.gz``).

Checksums (``verify="auto"``, the default): a file whose header declares the full MNIST count (60,000
training or 10,000 test items) claims to be the published file, so its SHA-256 must match the published one
(gzipped as published, unpacked, or packed again), or loading fails with "checksum mismatch". Smaller files
in the MNIST format (test fixtures, subsets) are accepted as they are. ``verify=True`` checks every file;
``verify=False`` none. Downloaded files are always checked.

The split: validation is a fixed pseudo-random 5,000 of the 60,000 training images, chosen by a keyed hash
of each index (splitmix64, key `SPLIT_SEED`), so it is the same on every machine and numpy version and is
spread over the whole file rather than a block at one end; train is the other 55,000, in file order; test
is the 10,000 t10k images. For smaller files the validation size is ``min(5000, n // 12)``.
"""

from __future__ import annotations

import gzip
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from digitreader.data.download import download as download_file
from digitreader.data.idx import decode_idx
from digitreader.errors import DataError
from digitreader.files import sha256_bytes

log = logging.getLogger(__name__)

ENV_DATA_DIR = "DIGITREADER_DATA"
ENV_MIRRORS = "DIGITREADER_MNIST_MIRRORS"  # comma-separated base URLs, tried before nothing else

MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)

SPLITS = ("train", "validation", "test")
Split = Literal["train", "validation", "test"]
VALIDATION_SIZE = 5000
SPLIT_SEED = 0


@dataclass(frozen=True)
class MnistFile:
    """A published MNIST file: name, SHA-256 of the .gz and of its unpacked bytes, item count."""

    name: str
    sha256: str
    raw_sha256: str
    count: int


TRAIN_IMAGES = MnistFile(
    "train-images-idx3-ubyte.gz",
    "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
    "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    60000,
)
TRAIN_LABELS = MnistFile(
    "train-labels-idx1-ubyte.gz",
    "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
    "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    60000,
)
TEST_IMAGES = MnistFile(
    "t10k-images-idx3-ubyte.gz",
    "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
    "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    10000,
)
TEST_LABELS = MnistFile(
    "t10k-labels-idx1-ubyte.gz",
    "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
    "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    10000,
)
FILES = (TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS)


@dataclass(frozen=True, eq=False)
class MnistData:
    """The three MNIST splits: images ``(N, 28, 28)`` uint8 (ink bright), labels ``(N,)`` int64 in 0..9."""

    train_images: np.ndarray
    train_labels: np.ndarray
    val_images: np.ndarray
    val_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray
    source: Path

    def split(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """``(images, labels)`` of "train", "validation" or "test"."""
        if name == "train":
            return self.train_images, self.train_labels
        if name == "validation":
            return self.val_images, self.val_labels
        if name == "test":
            return self.test_images, self.test_labels
        raise DataError(f"unknown split {name!r} (choose one of {', '.join(SPLITS)})")


def resolve_data_dir(data_dir: str | os.PathLike[str] | None = None) -> Path:
    """The MNIST folder: `data_dir`, else ``$DIGITREADER_DATA``, else the user cache folder."""
    if data_dir is not None and str(data_dir) != "":
        return Path(data_dir).expanduser()
    env = os.environ.get(ENV_DATA_DIR)
    if env:
        return Path(env).expanduser()
    from platformdirs import user_cache_dir  # only needed for the default

    return Path(user_cache_dir("digitreader")) / "mnist"


def mirrors() -> list[str]:
    """Base URLs to download from: ``$DIGITREADER_MNIST_MIRRORS`` when set, else `MIRRORS`."""
    env = os.environ.get(ENV_MIRRORS, "")
    chosen = [u.strip() for u in env.replace("\n", ",").split(",") if u.strip()] or list(MIRRORS)
    return [u if u.endswith("/") else u + "/" for u in chosen]


def load_mnist(
    data_dir: str | os.PathLike[str] | None = None,
    download: bool = True,
    verify: bool | Literal["auto"] = "auto",
) -> MnistData:
    """Load MNIST from `data_dir` (see `resolve_data_dir`), downloading missing files when `download`.

    Raises `DataError` (one line, naming the file) when a file is missing and not downloaded, unreadable,
    not a valid IDX file, of the wrong shape, or fails its checksum (see the module docstring for `verify`).
    """
    directory = resolve_data_dir(data_dir)
    if not download and not directory.is_dir():
        raise DataError(
            f"{directory}: MNIST folder not found (set --data-dir or ${ENV_DATA_DIR}, or allow download)"
        )
    created = not directory.exists()
    try:
        arrays = [_load_file(directory, spec, download=download, verify=verify) for spec in FILES]
    except DataError as exc:
        if created and directory.is_dir() and not any(directory.iterdir()):
            directory.rmdir()  # a mistyped --data-dir leaves no folder behind
        if "download failed" in str(exc):
            raise DataError(
                f"{exc}; no MNIST files were in {directory} (point --data-dir or ${ENV_DATA_DIR} at the "
                "folder that has them)"
            ) from None
        raise
    train_images, train_labels, test_images, test_labels = arrays
    _check_pair(directory / TRAIN_IMAGES.name, train_images, train_labels)
    _check_pair(directory / TEST_IMAGES.name, test_images, test_labels)

    n = len(train_labels)
    val_idx = validation_indices(n, min(VALIDATION_SIZE, n // 12))
    keep = np.ones(n, dtype=bool)
    keep[val_idx] = False
    labels = train_labels.astype(np.int64)
    data = MnistData(
        train_images=train_images[keep],
        train_labels=labels[keep],
        val_images=train_images[val_idx],
        val_labels=labels[val_idx],
        test_images=test_images,
        test_labels=test_labels.astype(np.int64),
        source=directory,
    )
    log.debug(
        "MNIST from %s: %d train, %d validation, %d test",
        directory,
        keep.sum(),
        len(val_idx),
        len(test_labels),
    )
    return data


def validation_indices(n: int, size: int, seed: int = SPLIT_SEED) -> np.ndarray:
    """The sorted indices of the validation items among `n`: the `size` with the smallest keyed hash."""
    if not 0 <= size <= n:
        raise ValueError(f"validation size {size} out of range for {n} items")
    keys = _mix64(np.arange(n, dtype=np.uint64) ^ np.uint64(seed))
    return np.sort(np.argsort(keys, kind="stable")[:size])


def _mix64(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: a fixed bijection on uint64 (array arithmetic wraps modulo 2**64)."""
    z = x + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def _find(directory: Path, spec: MnistFile) -> Path | None:
    """The file as published (.gz) or unpacked (no .gz), whichever is there."""
    for candidate in (directory / spec.name, directory / spec.name.removesuffix(".gz")):
        if candidate.is_file():
            return candidate
    return None


def _load_file(
    directory: Path, spec: MnistFile, *, download: bool, verify: bool | Literal["auto"]
) -> np.ndarray:
    path = _find(directory, spec)
    if path is None:
        if not download:
            raise DataError(f"{directory / spec.name}: MNIST file not found (download is off)")
        log.info("fetching %s into %s", spec.name, directory)
        path = download_file([base + spec.name for base in mirrors()], directory / spec.name, spec.sha256)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror or exc})") from None
    array = decode_idx(data, str(path))
    if (verify is True or (verify == "auto" and len(array) == spec.count)) and not _matches(data, spec):
        raise DataError(f"{path}: checksum mismatch (not the published MNIST file {spec.name}; delete it)")
    return array


def _matches(data: bytes, spec: MnistFile) -> bool:
    """True when `data` is the published file, or the published file unpacked (or packed again)."""
    if sha256_bytes(data) in (spec.sha256, spec.raw_sha256):
        return True
    return data[:2] == b"\x1f\x8b" and sha256_bytes(gzip.decompress(data)) == spec.raw_sha256


def _check_pair(name: Path, images: np.ndarray, labels: np.ndarray) -> None:
    if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != (28, 28):
        raise DataError(
            f"{name}: expected uint8 images of shape (N, 28, 28), got {images.dtype} {images.shape}"
        )
    if labels.ndim != 1 or len(labels) != len(images):
        raise DataError(f"{name}: {len(images)} images but labels of shape {labels.shape}")
    if labels.size and (labels.min() < 0 or labels.max() > 9):
        raise DataError(f"{name}: labels outside 0..9 (found {int(labels.min())}..{int(labels.max())})")
