"""The train / validation / test tensors of a run: MNIST's pinned split, or a user's dataset split alike.

A user's dataset (made by `digits data build`) has no split of its own: a fixed, keyed-hash pseudo-random 10%
is held out for validation and another 10% for test (the same on every machine, see
`data.mnist.validation_indices`). With `with_mnist`, MNIST's training images join the training set (the
user's images repeated so they are at least `USER_SHARE` of it), validation and test stay the user's own,
and MNIST test is reported beside them as ``mnist_test``.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from digitreader.errors import DataError

log = logging.getLogger(__name__)

HELD_OUT = 0.1  # fraction of a user's dataset kept for validation, and again for test
USER_SHARE = 0.1  # with MNIST mixed in, the user's images make up at least this fraction of training batches
SPLIT_NAMES = ("train", "validation", "test")


@dataclass(frozen=True)
class Part:
    """Images uint8 [N, 28, 28] (ink bright) and labels int64 [N], as tensors."""

    images: torch.Tensor
    labels: torch.Tensor

    def __len__(self) -> int:
        return len(self.labels)

    def head(self, n: int) -> Part:
        """The first `n` items (for dry runs)."""
        return Part(self.images[:n], self.labels[:n])


@dataclass(frozen=True)
class Splits:
    """What one run trains, validates and tests on; `description` names the source by name, never by a
    local path (it goes into logs, checkpoints and model cards)."""

    train: Part
    validation: Part
    test: Part
    description: str
    extra_tests: dict[str, Part] = field(default_factory=dict)


def _part(images: np.ndarray, labels: np.ndarray) -> Part:
    return Part(
        torch.from_numpy(np.ascontiguousarray(images, dtype=np.uint8)),
        torch.from_numpy(labels.astype(np.int64)),
    )


def _user_split(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Indices of train, validation and test among `n` user images (held-out ones alternate by hash rank)."""
    from digitreader.data.mnist import validation_indices

    n_held = min(n - 1, 2 * max(1, round(n * HELD_OUT))) if n >= 3 else 0
    if n_held < 2:
        raise DataError(f"a dataset of {n} image(s) is too small to hold out validation and test images")
    held = validation_indices(n, n_held, seed=1)
    keep = np.ones(n, dtype=bool)
    keep[held] = False
    return np.flatnonzero(keep), held[0::2], held[1::2]


def load_splits(
    data: str | os.PathLike[str] | None = None,
    with_mnist: bool = False,
    data_dir: str | os.PathLike[str] | None = None,
    download: bool = True,
) -> Splits:
    """MNIST (from `data_dir`), or the user dataset folder `data` (optionally with MNIST's train images)."""
    from digitreader.data.mnist import load_mnist

    if data is None:
        if with_mnist:
            raise DataError("--with-mnist needs --data DATASET (MNIST alone is the default)")
        mnist = load_mnist(data_dir, download=download)
        return Splits(
            train=_part(*mnist.split("train")),
            validation=_part(*mnist.split("validation")),
            test=_part(*mnist.split("test")),
            description="MNIST",
        )

    from digitreader.data.folder import load_dataset

    dataset = load_dataset(data)
    images, labels = np.asarray(dataset.images), np.asarray(dataset.labels)
    train_idx, val_idx, test_idx = _user_split(len(labels))
    train_images, train_labels = images[train_idx], labels[train_idx]
    extra: dict[str, Part] = {}
    description = f"dataset {Path(dataset.path).name} ({len(labels)} images)"
    if with_mnist:
        mnist = load_mnist(data_dir, download=download)
        m_images, m_labels = mnist.split("train")
        repeat = max(1, int(np.ceil(USER_SHARE * len(m_labels) / ((1 - USER_SHARE) * len(train_labels)))))
        train_images = np.concatenate([np.tile(train_images, (repeat, 1, 1)), m_images])
        train_labels = np.concatenate([np.tile(train_labels, repeat), m_labels])
        extra["mnist_test"] = _part(*mnist.split("test"))
        description += f" x{repeat} + MNIST train"
    return Splits(
        train=_part(train_images, train_labels),
        validation=_part(images[val_idx], labels[val_idx]),
        test=_part(images[test_idx], labels[test_idx]),
        description=description,
        extra_tests=extra,
    )


def load_split(
    name: str,
    data: str | os.PathLike[str] | None = None,
    data_dir: str | os.PathLike[str] | None = None,
    download: bool = True,
) -> tuple[Part, str]:
    """One split ("train", "validation" or "test") of MNIST or of the user dataset `data`, described."""
    if name not in SPLIT_NAMES:
        raise DataError(f"unknown split {name!r} (choose one of {', '.join(SPLIT_NAMES)})")
    splits = load_splits(data, data_dir=data_dir, download=download)
    part: Part = getattr(splits, name)
    return part, f"{splits.description}, {name} split"


def as_input(images: torch.Tensor) -> torch.Tensor:
    """uint8 [N, 28, 28] -> the model input float [N, 1, 28, 28] in [0, 1]."""
    return images.unsqueeze(1).float().div_(255.0)
